"""examples/ run unmodified against a local gateway (Node and Python), and hold no provider keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.security import api_keys
from tests import live_server
from tests.conftest import PROVIDER_KEYS, Upstreams

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = ["node-fetch-chat.mjs", "openai-sdk-compatible.mjs", "anthropic-messages-wrapper.mjs",
           "fetch_chat.py", "openai_sdk_compatible.py", "anthropic_messages_wrapper.py"]


@pytest.fixture(scope="module")
def live(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    key = api_keys.mint()
    server = live_server.start({**upstreams.env(), "KILLTOKEN_BOOTSTRAP_TENANTS": f"examples:{key}"},
                               tmp_path_factory.mktemp("examples") / "gateway.log")
    http = requests.Session()
    http.trust_env = False
    for provider in ("openai", "anthropic"):
        created = http.post(f"{server.base_url}/v1/provider-credentials", headers={"authorization": f"Bearer {key}"},
                            json={"provider": provider, "apiKey": PROVIDER_KEYS[provider]})
        assert created.status_code == 201, created.text
    yield {"base_url": server.base_url, "key": key}
    server.stop()


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_against_the_gateway(live: dict, upstreams: Upstreams, script: str) -> None:
    runner = ["node"] if script.endswith(".mjs") else [sys.executable]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(KILLTOKEN_BASE_URL=live["base_url"], KILLTOKEN_API_KEY=live["key"])
    done = subprocess.run([*runner, str(EXAMPLES / script)], env=env, capture_output=True, text=True, timeout=60,
                          cwd=EXAMPLES)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    metrics = out["metrics"]
    assert metrics["requestId"].startswith("req_")
    assert metrics["provider"] in ("openai", "anthropic")
    assert metrics["usage"]["totalTokens"] > 0
    text = out.get("text") or json.dumps(out["response"])
    assert "fake" in text


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_holds_no_provider_key(script: str) -> None:
    source = (EXAMPLES / script).read_text()
    assert "KILLTOKEN_BASE_URL" in source and "KILLTOKEN_API_KEY" in source
    for marker in ("sk-", "sk-ant", "AKIA", "PRIVATE KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        assert marker not in source
