"""GET /v1/requests and GET /v1/requests/{id}: tenant-scoped traces, keyset-paginated, no prompt text."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from flask import jsonify, request
from flask_smorest import Blueprint

from app.api.auth import require_tenant
from app.errors import ApiError
from app.extensions import handles
from app.store import traces

blp = Blueprint("requests", __name__, description="Request traces")

MAX_LIMIT = 200


def parse_time(raw: str | None, name: str) -> datetime | None:
    """ISO 8601 (a trailing Z or offset is converted to UTC); naive values are taken as UTC."""
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError("invalid_request", f"{name} must be an ISO 8601 time", param=name) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def render_trace(doc: dict[str, Any]) -> dict[str, Any]:
    """The public view of a trace: nanos become USD, ids keep their names."""
    out = {k: v for k, v in doc.items() if k not in ("_id", "costNanos", "avoidedCostNanos", "savings")}
    out["requestId"] = doc["_id"]
    out["createdAt"] = _iso(doc.get("createdAt"))
    out["avoidedCostUsd"] = (doc.get("avoidedCostNanos") or 0) / 1e9
    savings = doc.get("savings") or {}
    out["savings"] = {name.replace("Nanos", "Usd"): (value or 0) / 1e9 for name, value in savings.items()}
    return out


def _encode_cursor(doc: dict[str, Any]) -> str:
    raw = json.dumps([doc["createdAt"].isoformat(), doc["_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(raw: str) -> tuple[datetime, str]:
    try:
        at, last_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return datetime.fromisoformat(at), str(last_id)
    except (ValueError, TypeError, binascii.Error):
        raise ApiError("invalid_request", "cursor is not one this API returned", param="cursor") from None


@blp.route("/v1/requests", methods=["GET"])
def list_requests() -> Any:
    tenant = require_tenant()
    args = request.args
    unknown = sorted(set(args) - {"limit", "cursor", "from", "to", *traces.FILTER_FIELDS})
    if unknown:
        raise ApiError("invalid_request", f"unknown query parameter {unknown[0]!r}", param=unknown[0])
    try:
        limit = int(args.get("limit", 50))
    except ValueError:
        raise ApiError("invalid_request", "limit must be an integer", param="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError("invalid_request", f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    filters = {name: args[name] for name in traces.FILTER_FIELDS if args.get(name)}
    cursor = _decode_cursor(args["cursor"]) if args.get("cursor") else None
    start, end = parse_time(args.get("from"), "from"), parse_time(args.get("to"), "to")
    if start is not None and end is not None and start > end:
        raise ApiError("invalid_request", "from is later than to", param="from")
    docs = traces.page(handles().db, tenant.tenant_id, filters, start, end, cursor, limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    return jsonify({"data": [render_trace(d) for d in docs],
                    "nextCursor": _encode_cursor(docs[-1]) if more else None})


@blp.route("/v1/requests/<request_id>", methods=["GET"])
def get_request(request_id: str) -> Any:
    tenant = require_tenant()
    doc = traces.get(handles().db, tenant.tenant_id, request_id)
    if doc is None:
        raise ApiError("not_found", "no such request for this tenant")
    return jsonify(render_trace(doc))
