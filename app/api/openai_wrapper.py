"""POST /v1/openai/chat/completions: the OpenAI SDKs work unmodified with base_url=<gateway>/v1/openai."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.api import gateway, wrapper_fields
from app.api.body import peek_json_object, read_json_object
from app.services.openai_input import parse_openai_request
from app.services.render_openai import render_openai
from app.services.request_fields import refuse_streaming
from providers.base import FORMAT_OPENAI

blp = Blueprint("openai_wrapper", __name__, description="OpenAI-compatible wrapper")


def _parse(feature_header: str | None) -> gateway.Incoming:
    body = read_json_object()
    refuse_streaming(body)
    provider, model = wrapper_fields.choose_provider(body.get("model"), "openai")
    messages, options = parse_openai_request(body)
    return wrapper_fields.incoming("openai", FORMAT_OPENAI, body, provider, model, messages, options, feature_header)


@blp.route("/v1/openai/chat/completions", methods=["POST"])
def chat_completions() -> Any:
    feature = gateway.feature_header()
    outcome = gateway.run("openai", lambda: _parse(feature), peek_json_object)
    return wrapper_fields.wrapped_response(outcome, FORMAT_OPENAI, render_openai)
