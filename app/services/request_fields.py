"""Parsing of the KillToken fields shared by every entry point: mode, metadata, feature tag."""

from __future__ import annotations

from typing import Any

from app.errors import ApiError

OPTIMIZATION_MODES = ("measure_only", "safe")
FEATURE_MAX_LENGTH = 80


def parse_mode(raw: Any) -> str:
    if raw is None:
        return "measure_only"
    if raw not in OPTIMIZATION_MODES:
        raise ApiError("invalid_optimization_mode", "optimizationMode must be measure_only or safe",
                       param="optimizationMode")
    return raw


def parse_metadata(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiError("invalid_metadata", "metadata must be an object", param="metadata")
    if "feature" in raw and raw["feature"] is not None and not isinstance(raw["feature"], str):
        raise ApiError("invalid_metadata", "metadata.feature must be a string", param="metadata.feature")
    return raw


def _clean_feature(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()[:FEATURE_MAX_LENGTH].strip()
    return value or None


def parse_feature(metadata: dict[str, Any] | None, header: str | None) -> str | None:
    """metadata.feature wins over the x-killtoken-feature header; trimmed and capped at 80 characters."""
    from_body = _clean_feature((metadata or {}).get("feature"))
    return from_body if from_body is not None else _clean_feature(header)


def refuse_streaming(body: dict[str, Any]) -> None:
    """``stream`` (a body field of the wrappers, a providerOptions entry of /v1/chat) must be a boolean; true is
    refused with 422: streaming is not proxied."""
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise ApiError("invalid_request", "stream must be a boolean", param="stream")
    if body.get("stream") is True:
        raise ApiError("streaming_not_supported", "stream: true is not supported; send a non-streaming request",
                       param="stream")
