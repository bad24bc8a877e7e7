"""GET /v1/analytics/summary: totals, spend, savings by kind, cache hit rate, top templates, by feature."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask_smorest import Blueprint

from app.api.auth import require_tenant
from app.extensions import handles
from app.services import reports, rollups

blp = Blueprint("analytics", __name__, description="Analytics")


def fresh_db() -> Any:
    """The database, with rollups brought up to date first when no Celery beat runs them (embedded)."""
    db = handles().db
    if current_app.config["KILLTOKEN"]["KILLTOKEN_TASKS_MODE"] == "inprocess":
        rollups.refresh(db)
    return db


@blp.route("/v1/analytics/summary", methods=["GET"])
def analytics_summary() -> Any:
    tenant = require_tenant()
    query = reports.parse_query(request.args, rollups.utcnow())
    return jsonify(reports.summary(fresh_db(), tenant.tenant_id, query))
