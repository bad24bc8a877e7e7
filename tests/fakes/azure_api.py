"""A fake Azure OpenAI resource: the ``api-key`` header and both URL styles.

``azure_handler(expected_key, deployment, api_version=None)``: with a dated ``api_version`` it serves
``/openai/deployments/{deployment}/chat/completions?api-version=...`` (404 ``DeploymentNotFound`` for another
deployment, 404 without ``api-version``, as Azure answers); with ``api_version=None`` it serves the v1 API
``/openai/v1/chat/completions`` and requires ``model`` == the deployment. A wrong or missing ``api-key``
is a 401 in Azure's shape (``{"error": {"code": "401", "message": ...}}``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from tests.fakes.openai_api import OpenAIFake
from tests.fakes.scripted import json_body
from tests.fakes.server import Answer, Recorded


class AzureFake(OpenAIFake):
    provider = "azure_openai"

    def __init__(self, expected_key: str, deployment: str, *, api_version: str | None = None,
                 **kwargs: Any) -> None:
        path = (f"/openai/deployments/{deployment}/chat/completions" if api_version
                else "/openai/v1/chat/completions")
        super().__init__(expected_key, path=path, **kwargs)
        self.deployment = deployment
        self.api_version = api_version

    def error(self, status: int, error_type: str, message: str) -> dict[str, Any]:
        return {"error": {"code": error_type, "message": message}}

    def default_error_type(self, status: int) -> str:
        return {401: "401", 429: "429"}.get(status, "InternalServerError")

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("api-key") == self.expected_key

    def model_of(self, body: dict[str, Any]) -> Any:
        return self.deployment if self.api_version else body.get("model")

    def check(self, request: Recorded) -> Answer | None:
        if not self.authorized(request):
            return 401, {}, self.error(401, "401", "Access denied due to invalid subscription key or wrong API "
                                       "endpoint.")
        if self.api_version:
            if request.path.startswith("/openai/deployments/") and request.path != self.path:
                return 404, {}, self.error(404, "DeploymentNotFound", "The API deployment does not exist.")
            if parse_qs(request.query).get("api-version") != [self.api_version]:
                return 404, {}, self.error(404, "404", "Resource not found")
        elif request.path == self.path:
            body = json_body(request)
            if isinstance(body, dict) and body.get("model") != self.deployment:
                return 404, {}, self.error(404, "DeploymentNotFound", "The API deployment does not exist.")
        return super().check(request)


def azure_handler(expected_key: str, deployment: str, api_version: str | None = None,
                  **kwargs: Any) -> AzureFake:
    """A fake Azure OpenAI resource (see the module docstring)."""
    return AzureFake(expected_key, deployment, api_version=api_version, **kwargs)
