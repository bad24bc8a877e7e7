"""POST /v1/openai/chat/completions: the OpenAI SDKs work unmodified with base_url=<gateway>/v1/openai."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from app.api import gateway, wrapper_fields
from app.api.body import peek_json_object, read_json_object
from app.services.openai_input import parse_openai_request
from app.services.render_openai import render_openai
from app.services.request_fields import parse_feature, parse_metadata, parse_mode
from providers.base import FORMAT_OPENAI

blp = Blueprint("openai_wrapper", __name__, description="OpenAI-compatible wrapper")


def _parse(feature_header: str | None) -> gateway.Incoming:
    body = read_json_object()
    wrapper_fields.refuse_streaming(body)
    provider, model = wrapper_fields.choose_provider(body.get("model"), "openai")
    messages, options = parse_openai_request(body)
    metadata = parse_metadata(body.get("metadata"))
    mode = parse_mode(request.headers.get("x-killtoken-optimization-mode"))
    return gateway.Incoming(
        entry_point="openai", entry_format=FORMAT_OPENAI, provider=provider, model=model, messages=messages,
        options=options, key_body={**body, "model": model, "provider": provider, "optimizationMode": mode},
        optimization_mode=mode, metadata=metadata,
        feature=parse_feature(metadata, feature_header), cache_policy=wrapper_fields.cache_policy(),
        idempotency_key=wrapper_fields.idempotency_key(),
    )


@blp.route("/v1/openai/chat/completions", methods=["POST"])
def chat_completions() -> Any:
    feature = gateway.feature_header()
    outcome = gateway.run("openai", lambda: _parse(feature), peek_json_object)
    return wrapper_fields.wrapped_response(outcome, FORMAT_OPENAI, render_openai)
