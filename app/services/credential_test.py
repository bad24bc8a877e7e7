"""POST /v1/provider-credentials/{id}/test: a minimal real upstream call and the provider's verdict."""

from __future__ import annotations

from typing import Any

from app.errors import ApiError
from app.services import credentials as credential_service
from app.services.provider_call import CallTiming, check_tenant_endpoints, execute, origin_for, pick_session
from providers.registry import get_adapter


def run(doc: dict[str, Any], keyring: Any, handles: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Returns {ok, provider, model, upstreamStatus, error?}; an upstream refusal is a result, not an error."""
    adapter = get_adapter(doc["provider"])
    credential = credential_service.to_credential(keyring, doc)
    request = adapter.test_request(credential)
    timing = CallTiming()
    result: dict[str, Any] = {"ok": False, "provider": adapter.id, "model": request.model}
    try:
        check_tenant_endpoints(adapter, credential.config, settings, resolve=False)
        upstream = adapter.build_request(request, credential, origin_for(adapter, settings))
        tokens = handles.tokens if not adapter.uses_api_key else None
        session = pick_session(adapter, credential.config, settings, handles.session, handles.public_session)
        execute(adapter, credential, upstream, session, tokens, settings, timing)
        result["ok"] = True
    except ApiError as error:
        result["error"] = {"code": error.code, "message": error.message}
    result["upstreamStatus"] = timing.provider_status
    return result
