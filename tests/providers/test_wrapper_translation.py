"""The wrappers' parsers and renderers: OpenAI and Anthropic bodies ⇄ canonical requests and ParsedResponse."""

from __future__ import annotations

import pytest

from app.errors import ApiError
from app.services.anthropic_input import parse_anthropic_request
from app.services.openai_input import parse_openai_request
from app.services.render_anthropic import render_anthropic
from app.services.render_openai import render_openai
from providers import anthropic, gemini, openai_family
from providers.base import ChatRequest, ParsedResponse, Usage


def test_openai_body_splits_into_messages_and_options() -> None:
    body = {"model": "gpt-4o", "stream": False, "metadata": {"feature": "x"},
            "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.5, "max_tokens": 10, "top_k": 3}
    messages, options = parse_openai_request(body)
    assert messages == [{"role": "user", "content": "Hi"}]
    assert options == {"temperature": 0.5, "max_tokens": 10, "top_k": 3}


def test_openai_body_with_bad_messages() -> None:
    with pytest.raises(ApiError) as caught:
        parse_openai_request({"model": "m", "messages": []})
    assert caught.value.code == "invalid_messages"


def test_anthropic_body_to_canonical() -> None:
    body = {
        "model": "claude-x", "max_tokens": 200, "stream": False, "metadata": {"feature": "support"},
        "system": [{"type": "text", "text": "Sys A", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Sys B"}],
        "stop_sequences": ["STOP"], "temperature": 0.2, "top_k": 5,
        "tools": [{"name": "weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "...", "signature": "sig"},
                {"type": "text", "text": "Calling"},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "4C"}]},
                {"type": "text", "text": "Thanks"}]},
            {"role": "assistant", "content": "You're welcome"},
        ],
    }
    messages, options = parse_anthropic_request(body)
    assert messages == [
        {"role": "system", "content": "Sys A"},
        {"role": "system", "content": "Sys B"},
        {"role": "user", "content": [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
        {"role": "assistant", "content": "Calling", "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "4C"},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
        {"role": "assistant", "content": "You're welcome"},
    ]
    assert options == {
        "max_tokens": 200, "stop": ["STOP"], "temperature": 0.2, "top_k": 5,
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"},
                                                     "description": "Weather"}}],
        "tool_choice": "required", "parallel_tool_calls": False,
    }
    # the canonical form is what other providers are built from: it must translate cleanly
    request = ChatRequest(provider="gemini", model="gemini-2.5-flash", messages=messages,
                          options={k: v for k, v in options.items() if k not in ("parallel_tool_calls",)})
    contents = gemini.to_gemini_body(request)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "model"]


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "x"}],
     "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
    {"messages": [{"role": "tool", "tool_call_id": "a", "content": "x"}]},
    {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "a"}]}]},
    {"messages": [{"role": "system", "content": "x"}]},
    {"messages": []},
    {"system": 5, "messages": [{"role": "user", "content": "x"}]},
    {"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]},
    {"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "sometimes"}},
])
def test_anthropic_body_refusals(body: dict) -> None:
    with pytest.raises(ApiError) as caught:
        parse_anthropic_request({"model": "m", "max_tokens": 5, **body})
    assert (caught.value.code, caught.value.status) == ("invalid_request", 400)


def test_anthropic_only_blocks_reach_anthropic_and_are_refused_elsewhere() -> None:
    document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
    messages, _ = parse_anthropic_request({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": [document, {"type": "text", "text": "Summarize"}]}]})
    assert messages == [{"role": "user", "content": [document, {"type": "text", "text": "Summarize"}]}]
    request = ChatRequest(provider="anthropic", model="m", messages=messages)
    assert anthropic.to_anthropic_body(request)["messages"][0]["content"][0] == document
    with pytest.raises(ApiError) as caught:
        openai_family.OPENAI.build_request(ChatRequest(provider="openai", model="m", messages=messages), None, "x")
    assert caught.value.code == "invalid_messages"


def test_tool_result_error_and_images() -> None:
    messages, _ = parse_anthropic_request({"model": "m", "max_tokens": 5, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": True, "content": [
            {"type": "text", "text": "timeout"},
            {"type": "image", "source": {"type": "url", "url": "https://e.com/s.png"}}]}]}]})
    assert messages[1:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "Error: timeout"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://e.com/s.png"}}]},
    ]


USAGE = Usage(input_tokens=2009, cached_input_tokens=1800, cache_write_input_tokens=188, output_tokens=393,
              reasoning_tokens=100)


def test_render_openai() -> None:
    parsed = ParsedResponse(usage=USAGE, text="Hello", finish_reason="stop", model="claude-sonnet-4-5-20250929")
    assert render_openai(parsed, "claude-sonnet-4-5", "req_1", created=1700000000) == {
        "id": "chatcmpl-req_1", "object": "chat.completion", "created": 1700000000,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello", "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2009, "completion_tokens": 393, "total_tokens": 2402,
                  "prompt_tokens_details": {"cached_tokens": 1800},
                  "completion_tokens_details": {"reasoning_tokens": 100}},
    }


def test_render_openai_tool_calls() -> None:
    call_ = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    parsed = ParsedResponse(usage=Usage(), tool_calls=[call_], finish_reason="tool_calls")
    message = render_openai(parsed, "m", "r", created=1)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call_]}


def test_render_anthropic() -> None:
    call_ = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}
    parsed = ParsedResponse(usage=USAGE, text="Hi", tool_calls=[call_], finish_reason="tool_calls")
    assert render_anthropic(parsed, "gpt-4o", "req_2") == {
        "id": "msg_req_2", "type": "message", "role": "assistant", "model": "gpt-4o",
        "content": [{"type": "text", "text": "Hi"}, {"type": "tool_use", "id": "call_1", "name": "f",
                                                      "input": {"a": 1}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 21, "cache_creation_input_tokens": 188, "cache_read_input_tokens": 1800,
                  "output_tokens": 393},
    }


@pytest.mark.parametrize(("finish", "stop_reason"), [
    ("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"),
])
def test_render_anthropic_stop_reasons(finish: str, stop_reason: str) -> None:
    parsed = ParsedResponse(usage=Usage(), text="x", finish_reason=finish)
    assert render_anthropic(parsed, "m", "r")["stop_reason"] == stop_reason


def test_anthropic_usage_round_trips_through_render() -> None:
    body = {"content": [{"type": "text", "text": "x"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 21, "cache_creation_input_tokens": 188, "cache_read_input_tokens": 1800,
                      "output_tokens": 393}}
    rendered = render_anthropic(anthropic.parse_anthropic_response(body), "m", "r")
    assert rendered["usage"] == body["usage"]
