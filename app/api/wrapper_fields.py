"""What both wrappers read besides their own body: provider choice and the KillToken headers."""

from __future__ import annotations

from typing import Any

from flask import request

from app.errors import ApiError
from app.services import exact_cache, idempotency
from providers.registry import PROVIDER_IDS, get_adapter


def choose_provider(model: Any, default: str) -> tuple[str, str]:
    """``x-killtoken-provider`` header, else a ``provider/model`` prefix naming a provider, else ``default``."""
    if not isinstance(model, str) or not model.strip():
        raise ApiError("invalid_request", "model is required and must be a non-empty string", param="model")
    header = request.headers.get("x-killtoken-provider")
    if header:
        return get_adapter(header.strip()).id, model
    prefix, sep, rest = model.partition("/")
    if sep and prefix in PROVIDER_IDS and rest:
        return prefix, rest
    return default, model


def cache_policy() -> str:
    raw = request.headers.get("x-killtoken-cache")
    return "bypass" if raw is None else exact_cache.parse_policy_header(raw.strip())


def idempotency_key() -> str | None:
    raw = request.headers.get("idempotency-key")
    return None if raw is None else idempotency.validate_key(raw)


def refuse_streaming(body: dict[str, Any]) -> None:
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise ApiError("invalid_request", "stream must be a boolean", param="stream")
    if body.get("stream") is True:
        raise ApiError("streaming_not_supported", "stream: true is not supported; send a non-streaming request",
                       param="stream")


def wrapped_response(outcome: Any, native_format: str, render: Any) -> Any:
    """The wrapper's body: the provider's own when it speaks the wrapper's format, else translated;
    metrics under ``killtoken.metrics`` and in ``x-killtoken-metrics``."""
    from flask import jsonify

    from app.api.rendering import metrics_header

    if outcome.provider_format == native_format:
        body = dict(outcome.provider_body)
    else:
        body = render(outcome.parsed, outcome.metrics["model"], outcome.request_id)
    body["killtoken"] = {"metrics": outcome.metrics}
    response = jsonify(body)
    response.headers["x-killtoken-request-id"] = outcome.request_id
    response.headers["x-killtoken-metrics"] = metrics_header(outcome.metrics)
    for name, value in outcome.headers.items():
        response.headers[name] = value
    return response
