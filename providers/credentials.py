"""Save-time checks shared by the key-header adapters, so every one refuses the same malformed input alike."""

from __future__ import annotations

from typing import Any

from app.errors import ApiError


def require_api_key(api_key: str | None, secrets: dict[str, Any] | None) -> str:
    """The trimmed apiKey; refuses a secrets bundle, an empty key, or one that cannot travel in a header."""
    if secrets:
        raise ApiError("invalid_provider_secrets", "this provider takes apiKey, not secrets")
    if not isinstance(api_key, str) or not api_key.strip():
        raise ApiError("invalid_api_key", "apiKey must be a non-empty string", status=400)
    key = api_key.strip()
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in key):
        raise ApiError("invalid_api_key", "apiKey must be printable ASCII without spaces", status=400)
    return key


def no_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """Single-key providers take no config: an unknown field is refused rather than stored unused."""
    if config:
        name = sorted(config)[0]
        raise ApiError("invalid_provider_config", f"config.{name} is not accepted by this provider",
                       param=f"config.{name}")
    return {}


def config_string(config: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A trimmed non-empty string field of config (named in the error, never echoed)."""
    value = config.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError("invalid_provider_config", f"config.{name} must be a non-empty string",
                       param=f"config.{name}")
    return value.strip()


def only_fields(config: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse config fields the provider does not know."""
    if not isinstance(config, dict):
        raise ApiError("invalid_provider_config", "config must be an object", param="config")
    for name in sorted(config):
        if name not in allowed:
            raise ApiError("invalid_provider_config", f"config.{name} is not accepted by this provider",
                           param=f"config.{name}")
