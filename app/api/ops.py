"""GET /health (liveness: no auth, no I/O) and GET /ready (Mongo, Redis when enabled, dashboard auth).

/ready is 503 only when MongoDB is unreachable (nothing can be served). Redis down is 200 ``degraded``: the
gateway still serves every request without an idempotency key, so a load balancer must not pull it.
"""

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
    degraded = False
    if client is None:
        checks["cache"] = {"ok": True, "backend": "disabled"}
    else:
        try:
            client.ping()
            checks["cache"] = {"ok": True, "backend": "redis"}
        except Exception as exc:  # still serving (cache unavailable, idempotent requests 503): degraded, not down
            degraded = True
            checks["cache"] = {"ok": False, "backend": "redis", "error": type(exc).__name__}
    checks["tasks"] = {"ok": True, "mode": settings["KILLTOKEN_TASKS_MODE"]}
    checks["dashboardAuth"] = {"ok": True, "configured": bool(settings["KILLTOKEN_DASHBOARD_TOKEN"])}
    status = "not_ready" if not ok else ("degraded" if degraded else "ready")
    return jsonify({"status": status, "checks": checks}), 200 if ok else 503
