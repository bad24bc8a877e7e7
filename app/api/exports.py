"""GET /v1/exports/requests.csv (streamed, privacy-safe columns) and GET /v1/exports/analytics.json."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, stream_with_context
from flask_smorest import Blueprint

from app.api.analytics import fresh_db
from app.api.auth import require_tenant
from app.extensions import handles
from app.services import exports, reports, rollups

blp = Blueprint("exports", __name__, description="Exports")


@blp.route("/v1/exports/requests.csv", methods=["GET"])
def requests_csv() -> Any:
    tenant = require_tenant()
    now = rollups.utcnow()
    query = reports.parse_query(request.args, now, reports.QUERY_PARAMS + tuple(exports.TRACE_FILTERS))
    extra = exports.trace_filters(request.args)
    name = f"killtoken-requests-{now.strftime('%Y%m%dT%H%M%SZ')}.csv"
    body = stream_with_context(exports.requests_csv(handles().db, tenant.tenant_id, query, extra))
    return Response(body, mimetype="text/csv", headers={
        "content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


@blp.route("/v1/exports/analytics.json", methods=["GET"])
def analytics_json() -> Any:
    tenant = require_tenant()
    now = rollups.utcnow()
    query = reports.parse_query(request.args, now)
    response = jsonify(reports.analytics_export(fresh_db(), tenant.tenant_id, query, now))
    response.headers["cache-control"] = "no-store"
    return response
