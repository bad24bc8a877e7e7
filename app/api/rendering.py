"""Rendering of responses and errors in each entry point's own shape.

KillToken's own API answers ``{"error": {"code", "message"}}``. The OpenAI wrapper answers OpenAI's shape
and the Anthropic wrapper Anthropic's, so their SDKs raise the usual exception classes (and retry 429/5xx).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify

from app.errors import ApiError

_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                 405: "invalid_request_error",
                 409: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
                 422: "invalid_request_error", 424: "invalid_request_error", 429: "rate_limit_error",
                 503: "server_error"}
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 405: "invalid_request_error", 409: "invalid_request_error",
                    413: "request_too_large",
                    415: "invalid_request_error", 422: "invalid_request_error", 424: "permission_error",
                    429: "rate_limit_error", 503: "overloaded_error"}


def metrics_header(metrics: dict[str, Any] | None) -> str:
    return json.dumps(metrics or {}, separators=(",", ":"), ensure_ascii=True)


def _with_headers(response: Response, error: ApiError) -> Response:
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    if error.request_id:
        response.headers["x-killtoken-request-id"] = error.request_id
    if error.metrics is not None:
        response.headers["x-killtoken-metrics"] = metrics_header(error.metrics)
    return response


def native_error(error: ApiError) -> Response:
    return _with_headers(jsonify(error.body()), error)


def openai_error(error: ApiError) -> Response:
    body = {"error": {"message": error.message, "type": _OPENAI_TYPES.get(error.status, "server_error"),
                      "code": error.code, "param": error.param}}
    return _with_headers(jsonify(body), error)


def anthropic_error(error: ApiError) -> Response:
    body: dict[str, Any] = {"type": "error", "error": {
        "type": _ANTHROPIC_TYPES.get(error.status, "api_error"), "message": error.message, "code": error.code}}
    if error.request_id:
        body["request_id"] = error.request_id
    return _with_headers(jsonify(body), error)


RENDERERS = {"native": native_error, "openai": openai_error, "anthropic": anthropic_error}


def error_shape_for(path: str) -> str:
    if path.startswith("/v1/openai/"):
        return "openai"
    if path.startswith("/v1/anthropic/"):
        return "anthropic"
    return "native"
