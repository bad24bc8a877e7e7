"""Reading a JSON object body with stable errors (415, 413, 400), never a 500."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request

from app.errors import ApiError


def read_json_object() -> dict[str, Any]:
    content_type = (request.mimetype or "").lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError("unsupported_media_type", "send the body as application/json")
    limit = current_app.config["KILLTOKEN"]["KILLTOKEN_MAX_BODY_BYTES"]
    if (request.content_length or 0) > limit:
        raise ApiError("payload_too_large", f"the body is larger than {limit} bytes")
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise ApiError("payload_too_large", f"the body is larger than {limit} bytes")
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError("invalid_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body must be a JSON object")
    return body


def peek_json_object() -> dict[str, Any]:
    """Best-effort body for trace context when the real parse failed (never raises)."""
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}
