"""The official openai and anthropic Python SDKs, unmodified, against a real gunicorn+gevent gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest
import requests

from app.security import api_keys
from tests import live_server
from tests.conftest import PROVIDER_KEYS, PROXY_CANARIES, Upstreams, assert_no_canary


@pytest.fixture(scope="module")
def live(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    key_a, key_b = api_keys.mint(), api_keys.mint()
    env = {**upstreams.env(), **PROXY_CANARIES, "KILLTOKEN_BOOTSTRAP_TENANTS": f"acme:{key_a},globex:{key_b}"}
    server = live_server.start(env, tmp_path_factory.mktemp("live") / "gateway.log")
    http = requests.Session()
    http.trust_env = False
    for provider in ("openai", "anthropic", "gemini", "mistral"):
        created = http.post(f"{server.base_url}/v1/provider-credentials",
                            headers={"authorization": f"Bearer {key_a}"},
                            json={"provider": provider, "apiKey": PROVIDER_KEYS[provider]})
        assert created.status_code == 201, created.text
    yield {"server": server, "key": key_a, "other_key": key_b, "http": http}
    server.stop()
    assert_no_canary(server.logs())
    for secret in PROVIDER_KEYS.values():
        assert secret not in server.logs()
    assert key_a not in server.logs()


def _openai(live: dict, key: str | None = None, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=live["server"].base_url + "/v1/openai", api_key=key or live["key"],
                         max_retries=0, **kwargs)


def _anthropic(live: dict, key: str | None = None, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=live["server"].base_url + "/v1/anthropic", api_key=key or live["key"],
                               max_retries=0, **kwargs)


def test_openai_sdk_plain_call(live, upstreams):
    client = _openai(live, default_headers={"x-killtoken-feature": "support-bot"})
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hello"}], temperature=0.2)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from the fake."
    assert completion.usage.prompt_tokens == 120
    metrics = json.loads(raw.headers["x-killtoken-metrics"])
    assert metrics["feature"] == "support-bot"
    assert metrics["provider"] == "openai"
    assert completion.model_extra["killtoken"]["metrics"]["requestId"] == metrics["requestId"]
    sent = upstreams.fakes["openai"].last
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEYS['openai']}"
    assert sent.json() == {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Hello"}],
                           "temperature": 0.2}
    assert_no_canary(sent.headers, sent.body)


def test_openai_sdk_reaches_anthropic_by_prefix_and_gets_a_chat_completion(live, upstreams):
    completion = _openai(live).chat.completions.create(
        model="anthropic/claude-sonnet-4-5", max_tokens=64,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    sent = upstreams.fakes["anthropic"].last.json()
    assert sent["model"] == "claude-sonnet-4-5"
    assert sent["max_tokens"] == 64
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}] or \
        sent["messages"] == [{"role": "user", "content": "Hi"}]
    assert upstreams.fakes["anthropic"].last.headers["x-api-key"] == PROVIDER_KEYS["anthropic"]


def test_openai_sdk_reaches_gemini_by_header(live, upstreams):
    completion = _openai(live).chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"x-killtoken-provider": "gemini"})
    assert completion.object == "chat.completion"
    sent = upstreams.fakes["gemini"].last
    assert sent.headers["x-goog-api-key"] == PROVIDER_KEYS["gemini"]
    assert "key=" not in sent.query
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_openai_sdk_error_classes(live, upstreams):
    with pytest.raises(openai.AuthenticationError) as bad_key:
        _openai(live, key="kt_" + "x" * 43).chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
    assert bad_key.value.code == "invalid_api_key"
    with pytest.raises(openai.UnprocessableEntityError) as streaming:
        _openai(live).chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}],
                                              stream=True)
    assert streaming.value.code == "streaming_not_supported"
    upstreams.fakes["openai"].rate_limit_next(retry_after="7")
    with pytest.raises(openai.RateLimitError) as limited:
        _openai(live).chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.BadRequestError) as missing:
        _openai(live, key=live["other_key"]).chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
    assert missing.value.code == "provider_credential_required"


def test_anthropic_sdk_plain_call_keeps_native_body(live, upstreams):
    client = _anthropic(live)
    raw = client.messages.with_raw_response.create(
        model="claude-3-5-haiku-latest", max_tokens=256,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Hello"}])
    message = raw.parse()
    assert message.type == "message"
    assert message.content[0].text
    sent = upstreams.fakes["anthropic"].last
    assert sent.headers["x-api-key"] == PROVIDER_KEYS["anthropic"]
    assert sent.json()["system"] == [{"type": "text", "text": "You are terse.",
                                      "cache_control": {"type": "ephemeral"}}]
    metrics = json.loads(raw.headers["x-killtoken-metrics"])
    assert metrics["provider"] == "anthropic"
    assert_no_canary(sent.headers, sent.body)


def test_anthropic_sdk_reaches_openai_by_header_and_gets_a_message(live, upstreams):
    message = _anthropic(live).messages.create(
        model="gpt-4.1-mini", max_tokens=100, system="Be brief.",
        messages=[{"role": "user", "content": "Hello"}], extra_headers={"x-killtoken-provider": "openai"})
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].text == "Hello from the fake."
    # OpenAI reports 120 prompt tokens of which 100 cached: Anthropic's input_tokens excludes cache reads.
    assert message.usage.input_tokens == 20
    assert message.usage.cache_read_input_tokens == 100
    sent = upstreams.fakes["openai"].last.json()
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["max_tokens"] == 100


def test_anthropic_sdk_errors_and_openai_style_tools_refused(live, upstreams):
    with pytest.raises(anthropic.AuthenticationError):
        _anthropic(live, key="kt_" + "y" * 43).messages.create(
            model="claude-3-5-haiku-latest", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    before = len(upstreams.fakes["anthropic"].requests)
    with pytest.raises(anthropic.BadRequestError):
        _anthropic(live).messages.create(
            model="claude-3-5-haiku-latest", max_tokens=10, messages=[{"role": "user", "content": "Hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    assert len(upstreams.fakes["anthropic"].requests) == before
    with pytest.raises(anthropic.UnprocessableEntityError):
        _anthropic(live).messages.create(model="claude-3-5-haiku-latest", max_tokens=10, stream=True,
                                         messages=[{"role": "user", "content": "Hi"}])


def test_live_traces_list_the_sdk_calls(live):
    listed = live["http"].get(live["server"].base_url + "/v1/requests?limit=200",
                              headers={"authorization": f"Bearer {live['key']}"}).json()["data"]
    entry_points = {t["entryPoint"] for t in listed}
    assert {"openai", "anthropic"} <= entry_points
    assert all("messages" not in t for t in listed)


def test_ready_reports_backends_without_secrets(live):
    ready = live["http"].get(live["server"].base_url + "/ready").json()
    assert ready["status"] == "ready"
    assert ready["checks"]["persistence"]["backend"] == "embedded"
    assert ready["checks"]["cache"]["backend"] == "disabled"
    assert live["key"] not in json.dumps(ready)




def test_openai_wrapper_treats_null_fields_as_absent(live, upstreams):
    response = live["http"].post(live["server"].base_url + "/v1/openai/chat/completions",
                                 headers={"authorization": f"Bearer {live['key']}"},
                                 json={"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hi"}],
                                       "stop": None, "stream": False, "stream_options": None, "temperature": None})
    assert response.status_code == 200, response.text
    assert upstreams.fakes["openai"].last.json() == {"model": "gpt-4.1",
                                                     "messages": [{"role": "user", "content": "Hi"}]}
