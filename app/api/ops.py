"""GET /health (liveness: no auth, no I/O) and GET /ready (Mongo, Redis when enabled, dashboard auth)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from flask_smorest import Blueprint

from app.extensions import handles

blp = Blueprint("ops", __name__, description="Operations")


@blp.route("/health", methods=["GET"])
def health() -> Any:
    return jsonify({"status": "ok"})


@blp.route("/ready", methods=["GET"])
def ready() -> Any:
    settings = current_app.config["KILLTOKEN"]
    h = handles()
    checks: dict[str, Any] = {}
    ok = True
    try:
        h.db.command("ping")
        checks["persistence"] = {"ok": True, "backend": "embedded" if settings["EMBEDDED_STORE"] else "mongodb"}
    except Exception as exc:
        ok = False
        checks["persistence"] = {"ok": False, "backend": "mongodb", "error": type(exc).__name__}
    client = h.redis
    if client is None:
        checks["cache"] = {"ok": True, "backend": "disabled"}
    else:
        try:
            client.ping()
            checks["cache"] = {"ok": True, "backend": "redis"}
        except Exception as exc:
            ok = False
            checks["cache"] = {"ok": False, "backend": "redis", "error": type(exc).__name__}
    checks["tasks"] = {"ok": True, "mode": settings["KILLTOKEN_TASKS_MODE"]}
    checks["dashboardAuth"] = {"ok": True, "configured": bool(settings["KILLTOKEN_DASHBOARD_TOKEN"])}
    return jsonify({"status": "ready" if ok else "not_ready", "checks": checks}), 200 if ok else 503
