"""GET /v1/reports/roi: estimated, verified, potential and cache savings, by feature and provider/model."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_smorest import Blueprint

from app.api.analytics import fresh_db
from app.api.auth import require_tenant
from app.services import reports, rollups

blp = Blueprint("reports", __name__, description="Reports")


@blp.route("/v1/reports/roi", methods=["GET"])
def roi_report() -> Any:
    tenant = require_tenant()
    now = rollups.utcnow()
    query = reports.parse_query(request.args, now)
    return jsonify(reports.roi(fresh_db(), tenant.tenant_id, query, now))
