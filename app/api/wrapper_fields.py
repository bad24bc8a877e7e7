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


def incoming(entry_point: str, entry_format: str, body: dict[str, Any], provider: str, model: str,
             messages: list[dict[str, Any]], options: dict[str, Any], feature_header: str | None,
             native_body: dict[str, Any] | None = None) -> Any:
    """The pipeline's Incoming for a wrapper request: KillToken settings come from headers and ``metadata``.

    The cache key and idempotency fingerprint see the body with the resolved provider, model and mode.
    """
    from app.api.gateway import Incoming
    from app.services.request_fields import parse_feature, parse_metadata, parse_mode

    metadata = parse_metadata(body.get("metadata"))
    mode = parse_mode(request.headers.get("x-killtoken-optimization-mode"))
    return Incoming(
        entry_point=entry_point, entry_format=entry_format, provider=provider, model=model, messages=messages,
        options=options, key_body={**body, "model": model, "provider": provider, "optimizationMode": mode},
        optimization_mode=mode, metadata=metadata, feature=parse_feature(metadata, feature_header),
        cache_policy=cache_policy(), idempotency_key=idempotency_key(), native_body=native_body,
    )


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
