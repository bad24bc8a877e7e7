"""Shared test harness: ambient canary credentials, fake upstreams, and a gateway app per test.

Every test process carries ambient provider credentials and proxy variables in its environment (canaries).
The gateway must never send or use them: ``assert_no_canary`` scans whatever a test captured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes.anthropic_api import anthropic_handler
from tests.fakes.gemini_api import gemini_handler
from tests.fakes.openai_api import openai_handler
from tests.fakes.server import FakeServer

AMBIENT = {
    "OPENAI_API_KEY": "sk-ambient-canary-openai-0000",
    "ANTHROPIC_API_KEY": "sk-ant-ambient-canary-0000",
    "GEMINI_API_KEY": "ambient-canary-gemini-0000",
    "GOOGLE_API_KEY": "ambient-canary-google-0000",
    "MISTRAL_API_KEY": "ambient-canary-mistral-0000",
    "DEEPSEEK_API_KEY": "ambient-canary-deepseek-0000",
    "OPENROUTER_API_KEY": "ambient-canary-openrouter-0000",
    "TOGETHER_API_KEY": "ambient-canary-together-0000",
    "PERPLEXITY_API_KEY": "ambient-canary-perplexity-0000",
    "XAI_API_KEY": "ambient-canary-xai-0000",
    "AZURE_OPENAI_API_KEY": "ambient-canary-azure-0000",
    "AWS_ACCESS_KEY_ID": "AKIAAMBIENTCANARY000",
    "AWS_SECRET_ACCESS_KEY": "ambient-canary-aws-secret-0000",
    "AWS_SESSION_TOKEN": "ambient-canary-aws-session-0000",
    "AWS_PROFILE": "ambient-canary-profile",
    "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/ambient-canary-adc.json",
}
CANARIES = list(AMBIENT.values())
# Proxy variables pointing at a dead port: the gateway's upstream session must ignore them. They are given to
# the gateway under test (the live server's environment, or monkeypatched in-process), never to test clients.
PROXY_CANARIES = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                  "ALL_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
                  "https_proxy": "http://127.0.0.1:9"}

# The keys each fake accepts; the tests store exactly these as tenant credentials.
PROVIDER_KEYS = {
    "openai": "sk-test-openai-1111",
    "anthropic": "sk-ant-test-2222",
    "gemini": "gemini-test-3333",
    "mistral": "mistral-test-4444",
    "deepseek": "sk-deepseek-test-5555",
    "openrouter": "sk-or-test-6666",
    "together": "together-test-7777",
    "perplexity": "pplx-test-8888",
    "xai": "xai-test-9999",
    "azure_openai": "azure-test-aaaa",
    "openai_compatible": "compat-test-bbbb",
}


def pytest_configure(config: Any) -> None:
    os.environ.update(AMBIENT)
    for name in [n for n in os.environ if n.startswith("KILLTOKEN_") or n in ("REDIS_URL", "PORT")
                 or n.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")]:
        os.environ.pop(name)


def assert_no_canary(*texts: Any) -> None:
    """Fail if an ambient credential appears anywhere in the given texts (bytes, str, or JSON-able)."""
    import json

    for text in texts:
        blob = text.decode("utf-8", "replace") if isinstance(text, bytes) else (
            text if isinstance(text, str) else json.dumps(text, default=str))
        for canary in CANARIES:
            assert canary not in blob, f"ambient credential {canary[:12]}… leaked"


@dataclass
class Upstreams:
    """One fake server per provider family; ``fakes[provider]`` is the scripted handler."""

    fakes: dict[str, Any] = field(default_factory=dict)
    servers: dict[str, FakeServer] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {f"KILLTOKEN_UPSTREAM_URL_{p.upper()}": s.origin for p, s in self.servers.items()}

    def all_requests(self) -> list[Any]:
        return [r for fake in self.fakes.values() for r in fake.requests]


OPENAI_FAMILY_PATHS = {
    "openai": "/v1/chat/completions",
    "mistral": "/v1/chat/completions",
    "deepseek": "/chat/completions",
    "openrouter": "/api/v1/chat/completions",
    "together": "/v1/chat/completions",
    "perplexity": "/chat/completions",
    "xai": "/v1/chat/completions",
    "openai_compatible": "/v1/chat/completions",
}


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    ups = Upstreams()
    for provider, path in OPENAI_FAMILY_PATHS.items():
        ups.fakes[provider] = openai_handler(PROVIDER_KEYS[provider], path=path)
    ups.fakes["anthropic"] = anthropic_handler(PROVIDER_KEYS["anthropic"])
    ups.fakes["gemini"] = gemini_handler(PROVIDER_KEYS["gemini"])
    from tests.fakes.azure_api import azure_handler

    ups.fakes["azure_openai"] = azure_handler(PROVIDER_KEYS["azure_openai"], "prod-gpt4o",
                                              api_version="2024-10-21")
    for provider, fake in ups.fakes.items():
        ups.servers[provider] = FakeServer(fake).start()
    yield ups
    for server in ups.servers.values():
        server.stop()


@pytest.fixture(autouse=True)
def _reset_fakes(request: Any) -> Iterator[None]:
    yield
    if "upstreams" in request.fixturenames:
        for fake in request.getfixturevalue("upstreams").fakes.values():
            fake.reset()


class Gateway:
    """A gateway app on the embedded store plus helpers to act as a tenant."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()

    @property
    def db(self) -> Any:
        from app.extensions import handles

        return handles(self.app).db

    def tenant(self, name: str = "acme") -> str:
        """Create a tenant with a fresh key; returns the key (the tenant id is ``self.tenant_of(key)``)."""
        from app.security import api_keys
        from app.store import api_keys as key_store
        from app.store import tenants as tenant_store

        with self.app.app_context():
            tenant = tenant_store.create(self.db, name)
            key = api_keys.mint()
            key_store.add(self.db, tenant["_id"], key)
        return key

    def tenant_of(self, key: str) -> str:
        from app.security import api_keys

        return self.db["api_keys"].find_one({"keyHash": api_keys.hash_key(key)})["tenantId"]

    def auth(self, key: str, **headers: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}", **headers}

    def add_credential(self, key: str, provider: str, **body: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"provider": provider, **body}
        if "secrets" not in body and "apiKey" not in body:
            payload["apiKey"] = PROVIDER_KEYS[provider]
        if provider == "azure_openai" and "config" not in body:
            payload["config"] = {"endpoint": "https://acme.openai.azure.com", "deployment": "prod-gpt4o",
                                 "apiVersion": "2024-10-21"}
        if provider == "openai_compatible" and "config" not in body:
            payload["config"] = {"baseUrl": "https://llm.acme.example/v1", "defaultModel": "llama-3.1-8b"}
        response = self.client.post("/v1/provider-credentials", json=payload, headers=self.auth(key))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def chat(self, key: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.client.post("/v1/chat", json=body, headers=self.auth(key, **(headers or {})))


def make_gateway(env: dict[str, str] | None = None, **overrides: Any) -> Gateway:
    from app import create_app

    app = create_app(overrides=overrides or None, environ=dict(env or {}))
    app.config["TESTING"] = True
    return Gateway(app)


@pytest.fixture
def gateway(upstreams: Upstreams, monkeypatch: Any) -> Gateway:
    """A gateway on the embedded store whose providers all point at the fakes; tasks run in-process.

    The proxy canaries are set for the duration: an upstream call that honoured them would fail.
    """
    for name, value in PROXY_CANARIES.items():
        monkeypatch.setenv(name, value)
    return make_gateway({**upstreams.env(), "KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS": "false"})


@pytest.fixture
def captured_logs(caplog: Any) -> Any:
    caplog.set_level(logging.DEBUG)
    return caplog
