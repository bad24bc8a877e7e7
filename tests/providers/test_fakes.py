"""The fake upstreams refuse what the real services refuse and script failures as documented."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from tests.fakes.anthropic_api import anthropic_handler
from tests.fakes.azure_api import azure_handler
from tests.fakes.gemini_api import gemini_handler
from tests.fakes.openai_api import openai_handler
from tests.fakes.scripted import ScriptedFake

KEY = "test-key-abc"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


@contextmanager
def served(fake: ScriptedFake) -> Iterator[str]:
    server = fake.serve()
    try:
        yield server.origin
    finally:
        server.stop()


@pytest.fixture
def openai_fake() -> Iterator[tuple[ScriptedFake, str]]:
    fake = openai_handler(KEY)
    with served(fake) as origin:
        yield fake, origin


OK_CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}


def test_openai_fake_auth_and_fields(openai_fake: tuple[ScriptedFake, str], session: requests.Session) -> None:
    fake, origin = openai_fake
    url = origin + "/v1/chat/completions"
    response = session.post(url, json=OK_CHAT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    auth = {"authorization": f"Bearer {KEY}"}
    assert session.post(url, json={"messages": OK_CHAT["messages"]}, headers=auth).status_code == 400
    assert session.post(url, json={"model": "m", "messages": [{"role": "robot", "content": "x"}]},
                        headers=auth).status_code == 400
    ok = session.post(url, json=OK_CHAT, headers=auth)
    assert ok.status_code == 200
    assert ok.json()["usage"]["prompt_tokens_details"] == {"cached_tokens": 100, "audio_tokens": 0}
    assert len(fake.requests) == 4


def test_scripted_failures(openai_fake: tuple[ScriptedFake, str], session: requests.Session) -> None:
    fake, origin = openai_fake
    url = origin + "/v1/chat/completions"
    auth = {"authorization": f"Bearer {KEY}"}
    fake.rate_limit_next("3").server_error_next(502).malformed_next().slow_next(0.3)
    limited = session.post(url, json=OK_CHAT, headers=auth)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert session.post(url, json=OK_CHAT, headers=auth).status_code == 502
    malformed = session.post(url, json=OK_CHAT, headers=auth)
    assert (malformed.status_code, malformed.text) == (200, "<html>oops</html>")
    started = time.monotonic()
    assert session.post(url, json=OK_CHAT, headers=auth).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.exceptions.ReadTimeout):
        fake.slow_next(1.0)
        session.post(url, json=OK_CHAT, headers=auth, timeout=0.2)


def test_refused_request_does_not_use_up_the_script(openai_fake: tuple[ScriptedFake, str],
                                                    session: requests.Session) -> None:
    fake, origin = openai_fake
    fake.fail_next(400, "context_length_exceeded")
    assert session.post(origin + "/v1/chat/completions", json=OK_CHAT).status_code == 401
    answer = session.post(origin + "/v1/chat/completions", json=OK_CHAT, headers={"authorization": f"Bearer {KEY}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "context_length_exceeded")


def test_anthropic_fake_rules(session: requests.Session) -> None:
    fake = anthropic_handler(KEY)
    with served(fake) as origin:
        url = origin + "/v1/messages"
        headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
        base = {"model": "claude", "max_tokens": 10}
        assert session.post(url, json={**base, "messages": [{"role": "user", "content": "x"}]},
                            headers={"x-api-key": "bad"}).json()["error"]["type"] == "authentication_error"
        assert session.post(url, json={"model": "c", "messages": [{"role": "user", "content": "x"}]},
                            headers=headers).status_code == 400
        for messages in ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                         [{"role": "system", "content": "a"}],
                         [{"role": "user", "content": [{"type": "text", "text": ""}]}],
                         [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}]):
            refused = session.post(url, json={**base, "messages": messages}, headers=headers)
            assert refused.status_code == 400
            assert refused.json()["type"] == "error"
        ok = session.post(url, json={**base, "messages": [{"role": "user", "content": "x"}]}, headers=headers)
        assert ok.json()["usage"] == {"input_tokens": 20, "cache_creation_input_tokens": 50,
                                      "cache_read_input_tokens": 400, "output_tokens": 12}
        fake.fail_next(529)
        overloaded = session.post(url, json={**base, "messages": [{"role": "user", "content": "x"}]}, headers=headers)
        assert (overloaded.status_code, overloaded.json()["error"]["type"]) == (529, "overloaded_error")


def test_gemini_fake_rules(session: requests.Session) -> None:
    fake = gemini_handler(KEY, model="gemini-2.5-flash")
    with served(fake) as origin:
        url = origin + "/v1beta/models/gemini-2.5-flash:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
        assert session.post(url, json=body).status_code == 403
        bad = session.post(url, json=body, headers={"x-goog-api-key": "wrong"})
        assert bad.status_code == 400
        assert bad.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        assert session.post(url + f"?key={KEY}", json=body, headers={"x-goog-api-key": KEY}).status_code == 400
        header = {"x-goog-api-key": KEY}
        assert session.post(url, json={"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
                            headers=header).status_code == 400
        assert session.post(url, json={"contents": []}, headers=header).status_code == 400
        ok = session.post(url, json=body, headers=header)
        assert ok.json()["usageMetadata"]["thoughtsTokenCount"] == 25
        fake.rate_limit_next("5")
        limited = session.post(url, json=body, headers=header)
        assert (limited.status_code, limited.json()["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")


def test_azure_fake_rules(session: requests.Session) -> None:
    fake = azure_handler(KEY, "dep1", api_version="2024-10-21")
    with served(fake) as origin:
        url = origin + "/openai/deployments/dep1/chat/completions"
        body = {"messages": [{"role": "user", "content": "x"}]}
        assert session.post(url + "?api-version=2024-10-21", json=body,
                            headers={"authorization": f"Bearer {KEY}"}).status_code == 401
        assert session.post(url, json=body, headers={"api-key": KEY}).status_code == 404
        ok = session.post(url + "?api-version=2024-10-21", json=body, headers={"api-key": KEY})
        assert (ok.status_code, ok.json()["model"]) == (200, "dep1")


def test_anthropic_fake_tool_pairing(session: requests.Session) -> None:
    fake = anthropic_handler(KEY)
    with served(fake) as origin:
        headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
        use = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}
        result = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
        text = {"type": "text", "text": "next"}

        def status(*messages: dict) -> int:
            body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "go"}, *messages]}
            return session.post(origin + "/v1/messages", json=body, headers=headers).status_code

        assert status(use, {"role": "user", "content": [result, text]}) == 200
        assert status(use, {"role": "user", "content": [text, result]}) == 400
        assert status(use, {"role": "user", "content": [text]}) == 400


def test_gemini_fake_function_response_count(session: requests.Session) -> None:
    fake = gemini_handler(KEY)
    with served(fake) as origin:
        call_ = {"functionCall": {"name": "f", "args": {}}}
        reply = {"functionResponse": {"name": "f", "response": {}}}
        url = origin + "/v1beta/models/m:generateContent"

        def status(*responses: dict) -> int:
            contents = [{"role": "user", "parts": [{"text": "go"}]}, {"role": "model", "parts": [call_, call_]},
                        {"role": "user", "parts": list(responses)}]
            return session.post(url, json={"contents": contents}, headers={"x-goog-api-key": KEY}).status_code

        assert status(reply, reply) == 200
        assert status(reply) == 400
