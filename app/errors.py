"""The one error type of KillToken and the closed table of error codes.

Every failure the API reports is an ``ApiError`` carrying a code from ``ERROR_CODES``. The native renderer
produces ``{"error": {"code", "message"}}``; the wrappers re-render the same error in OpenAI's or Anthropic's
shape (see ``app/api/wrapper_errors.py``) so their SDKs raise their usual exception classes.
"""

from __future__ import annotations

from typing import Any

# code -> (default HTTP status, one-line meaning). The README's error table is checked against this by a test.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "The body is not valid JSON or has an unknown or mistyped field."),
    "invalid_messages": (400, "Messages are missing or malformed."),
    "invalid_cache_policy": (400, "Cache policy is malformed."),
    "invalid_optimization_mode": (400, "optimizationMode is not measure_only or safe."),
    "invalid_idempotency_key": (400, "idempotencyKey is empty or longer than 255 characters."),
    "invalid_metadata": (400, "metadata is not an object of JSON values."),
    "invalid_provider_options": (400, "A providerOptions entry is malformed."),
    "unsupported_provider_option": (400, "A providerOptions entry is not supported by the chosen provider."),
    "invalid_provider_secrets": (400, "The credential's secrets are missing, malformed or mixed with apiKey."),
    "invalid_provider_config": (400, "The credential's non-secret config is missing or malformed."),
    "invalid_endpoint": (400, "A tenant-supplied endpoint is not https or resolves to a private address."),
    "provider_credential_required": (400, "The tenant has no active credential for this provider."),
    "provider_request_rejected": (400, "The provider rejected the request as invalid (status kept)."),
    "invalid_api_key": (401, "Missing, unknown, or revoked Bearer key (400 on a credential write)."),
    "not_found": (404, "No such resource for this tenant."),
    "method_not_allowed": (405, "The method is not allowed on this path."),
    "credential_exists": (409, "The tenant already has an active credential for this provider."),
    "credential_conflict": (409, "The credential changed concurrently; read it again and retry."),
    "idempotency_in_progress": (409, "A request with this idempotency key is still running; retry later."),
    "payload_too_large": (413, "The request body is larger than KILLTOKEN_MAX_BODY_BYTES."),
    "unsupported_media_type": (415, "The body must be application/json."),
    "provider_not_supported": (422, "Provider is not one of the 13 supported providers."),
    "streaming_not_supported": (422, "Streaming proxy support is not in the MVP."),
    "idempotency_key_reused": (422, "The idempotency key was used before with a different body."),
    "provider_auth_failed": (424, "The provider refused the stored credential (not your KillToken key)."),
    "provider_rate_limited": (429, "The provider answered 429; retry-after is the provider's."),
    "internal_error": (500, "An unexpected error; the trace records it."),
    "provider_error": (502, "The provider answered 5xx or a malformed body."),
    "idempotency_unavailable": (503, "The idempotency store is unreachable; the request was not run."),
    "not_ready": (503, "A backing service is unreachable."),
    "provider_timeout": (504, "The provider did not answer within the read timeout."),
}


class ApiError(Exception):
    """A failure with a stable code, a safe message and an HTTP status.

    ``message`` must never contain a secret: callers pass provider names and statuses, not upstream text
    that may echo a key. ``headers`` carries e.g. ``retry-after``. ``provider_status`` keeps the upstream
    status for traces.
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        provider_status: int | None = None,
        param: str | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        default_status, meaning = ERROR_CODES[code]
        self.code = code
        self.message = message or meaning
        self.status = status or default_status
        self.headers = dict(headers or {})
        self.provider_status = provider_status
        self.param = param
        self.request_id: str | None = None  # set by the pipeline once the request is traced
        self.metrics: dict[str, Any] | None = None
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        """The native KillToken envelope."""
        return {"error": {"code": self.code, "message": self.message}}
