"""Reading a JSON object body with stable errors (415, 413, 400), never a 500.

Besides JSON syntax, a body is refused when it is larger than KILLTOKEN_MAX_BODY_BYTES (chunked bodies
included), nested deeper than ``MAX_DEPTH`` (MongoDB stores at most 100 levels and deep recursion would fail
later), or carries an unpaired UTF-16 surrogate escape (valid JSON syntax, but not Unicode text: it cannot
be sent upstream or stored).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import ApiError

MAX_DEPTH = 64
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _too_large(limit: int) -> ApiError:
    return ApiError("payload_too_large", f"the body is larger than {limit} bytes")


def _raw_body(limit: int) -> bytes:
    if (request.content_length or 0) > limit:
        raise _too_large(limit)
    try:
        if request.content_length is None:  # chunked: read one byte past the limit to know
            raw = request.stream.read(limit + 1)
            if len(raw) > limit:
                raise _too_large(limit)
            request._cached_data = raw  # so later readers (trace context) see the same bytes
            return raw
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large(limit) from None


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError("invalid_request", f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, (dict, list)))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))


def _check_unicode(raw: bytes, body: Any) -> None:
    if not _SURROGATE_ESCAPE.search(raw):
        return
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError("invalid_request", "the body contains an unpaired UTF-16 surrogate escape") from None


def read_json_object() -> dict[str, Any]:
    content_type = (request.mimetype or "").lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError("unsupported_media_type", "send the body as application/json")
    raw = _raw_body(current_app.config["KILLTOKEN"]["KILLTOKEN_MAX_BODY_BYTES"])
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError("invalid_request", "the body is not valid JSON") from None
    except RecursionError:
        raise ApiError("invalid_request", f"the body is nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body must be a JSON object")
    _check_depth(body)
    _check_unicode(raw, body)
    g.killtoken_body = body  # trace context on a later refusal reuses it instead of parsing again
    return body


def peek_json_object() -> dict[str, Any]:
    """Best-effort body for trace context when the real parse failed (never raises, never reads past limits)."""
    parsed = g.get("killtoken_body")
    if parsed is not None:
        return parsed
    try:
        raw = request._cached_data if hasattr(request, "_cached_data") else None
        if raw is None:
            limit = current_app.config["KILLTOKEN"]["KILLTOKEN_MAX_BODY_BYTES"]
            if request.content_length is None or request.content_length > limit:
                return {}
            raw = request.get_data(cache=True)
        body = json.loads(raw or b"null")
    except Exception:  # any failure here only costs the trace its provider/model context
        return {}
    return body if isinstance(body, dict) else {}
