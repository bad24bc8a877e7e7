"""POST /v1/chat: the primary gateway endpoint; the provider body comes back unchanged beside metrics."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from app.api import gateway
from app.api.body import peek_json_object, read_json_object
from app.errors import ApiError
from app.services import exact_cache, idempotency
from app.services.messages import validate_messages
from app.services.request_fields import parse_feature, parse_metadata, parse_mode, refuse_streaming
from providers.base import FORMAT_KILLTOKEN

blp = Blueprint("chat", __name__, description="Gateway chat endpoint")

FIELDS = {"provider", "model", "messages", "optimizationMode", "metadata", "providerOptions", "cachePolicy",
          "idempotencyKey"}


def parse_chat_body(body: dict[str, Any], feature_header: str | None) -> gateway.Incoming:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise ApiError("invalid_request", f"unknown field {unknown[0]!r}; generation parameters go in "
                       "providerOptions", param=unknown[0])
    provider = body.get("provider")
    if provider is None:
        raise ApiError("invalid_request", "provider is required", param="provider")
    from providers.registry import get_adapter

    get_adapter(provider)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError("invalid_request", "model is required and must be a non-empty string", param="model")
    messages = validate_messages(body.get("messages"))
    options = body.get("providerOptions")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ApiError("invalid_provider_options", "providerOptions must be an object", param="providerOptions")
    refuse_streaming(options)
    options = {k: v for k, v in options.items() if k != "stream"}
    metadata = parse_metadata(body.get("metadata"))
    mode = parse_mode(body.get("optimizationMode"))
    # Defaults spelled out or left implicit are the same request: the key sees the resolved values.
    key_body = {**body, "optimizationMode": mode, "providerOptions": options}
    return gateway.Incoming(
        entry_point="chat", entry_format=FORMAT_KILLTOKEN, provider=provider, model=model,
        messages=messages, options=options, key_body=key_body, optimization_mode=mode, metadata=metadata,
        feature=parse_feature(metadata, feature_header),
        cache_policy=exact_cache.parse_policy(body.get("cachePolicy")),
        idempotency_key=idempotency.validate_key(body.get("idempotencyKey")),
    )


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _envelope(outcome: gateway.Outcome) -> bytes:
    """``{"response": <the provider's body, byte for byte>, "metrics": {...}}``."""
    provider = outcome.provider_raw.strip() if outcome.provider_raw else b""
    if not provider or provider.startswith(b"\xef\xbb\xbf") or not _is_utf8(provider):
        # A BOM or UTF-16 body parses as JSON but cannot be spliced: re-serialize, key order kept.
        provider = json.dumps(outcome.provider_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    metrics = json.dumps(outcome.metrics, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b'{"response":' + provider + b',"metrics":' + metrics + b"}"


@blp.route("/v1/chat", methods=["POST"])
def chat() -> Any:
    feature = gateway.feature_header()
    outcome = gateway.run("chat", lambda: parse_chat_body(read_json_object(), feature), peek_json_object)
    response = Response(_envelope(outcome), mimetype="application/json")
    response.headers["x-killtoken-request-id"] = outcome.request_id
    for name, value in outcome.headers.items():
        response.headers[name] = value
    return response
