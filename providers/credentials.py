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


def _string_field(values: dict[str, Any], section: str, code: str, name: str, required: bool) -> str | None:
    value = values.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(code, f"{section}.{name} must be a non-empty string", param=f"{section}.{name}")
    return value.strip()


def config_string(config: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A trimmed non-empty string field of config (named in the error, never echoed)."""
    return _string_field(config, "config", "invalid_provider_config", name, required)


def secret_string(secrets: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A trimmed non-empty string field of a secrets bundle (named in the error, never echoed)."""
    return _string_field(secrets, "secrets", "invalid_provider_secrets", name, required)


def secrets_bundle(provider: str, api_key: str | None, secrets: dict[str, Any] | None,
                   required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The opening save-time checks of a secrets-bundle provider; returns ``secrets`` once they pass.

    Refuses an apiKey, a missing or non-object bundle, and any field outside ``required + optional``. The
    field-level checks (presence, format) stay with the provider.
    """
    if api_key is not None:
        shape = ", ".join([*required, *(f"{name}?" for name in optional)])
        raise ApiError("invalid_provider_secrets", f"{provider} takes secrets {{{shape}}}, not apiKey",
                       param="apiKey")
    if not isinstance(secrets, dict) or not secrets:
        raise ApiError("invalid_provider_secrets", f"secrets {{{', '.join(required)}}} are required",
                       param="secrets")
    for name in sorted(secrets):
        if name not in required and name not in optional:
            raise ApiError("invalid_provider_secrets", f"secrets.{name} is not accepted by {provider}",
                           param=f"secrets.{name}")
    return secrets


def only_fields(config: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse config fields the provider does not know."""
    if not isinstance(config, dict):
        raise ApiError("invalid_provider_config", "config must be an object", param="config")
    for name in sorted(config):
        if name not in allowed:
            raise ApiError("invalid_provider_config", f"config.{name} is not accepted by this provider",
                           param=f"config.{name}")
