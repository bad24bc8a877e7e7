"""POST /v1/anthropic/messages: the Anthropic SDK works unmodified with base_url=<gateway>/v1/anthropic."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.api import gateway, wrapper_fields
from app.api.body import peek_json_object, read_json_object
from app.errors import ApiError
from app.services.anthropic_input import parse_anthropic_request
from app.services.render_anthropic import render_anthropic
from app.services.request_fields import refuse_streaming
from providers.base import FORMAT_ANTHROPIC

blp = Blueprint("anthropic_wrapper", __name__, description="Anthropic Messages wrapper")

# Body fields KillToken consumes itself rather than forwarding (metadata.user_id is passed on, see below).
_KILLTOKEN_FIELDS = ("metadata", "stream")


def _parse(feature_header: str | None) -> gateway.Incoming:
    body = read_json_object()
    refuse_streaming(body)
    provider, model = wrapper_fields.choose_provider(body.get("model"), "anthropic")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ApiError("invalid_request", "max_tokens is required and must be a positive integer",
                       param="max_tokens")
    messages, options = parse_anthropic_request(body)
    native = {k: v for k, v in body.items() if k not in _KILLTOKEN_FIELDS}
    native["model"] = model
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):  # Anthropic's own field
        native["metadata"] = {"user_id": metadata["user_id"]}
    return wrapper_fields.incoming("anthropic", FORMAT_ANTHROPIC, body, provider, model, messages, options,
                                   feature_header, native_body=native)


@blp.route("/v1/anthropic/messages", methods=["POST"])
@blp.route("/v1/anthropic/v1/messages", methods=["POST"])
def messages() -> Any:
    feature = gateway.feature_header()
    outcome = gateway.run("anthropic", lambda: _parse(feature), peek_json_object)
    return wrapper_fields.wrapped_response(outcome, FORMAT_ANTHROPIC, render_anthropic)
