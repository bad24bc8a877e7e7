"""safe mode removes only meaningless whitespace and JSON formatting; code and tool payloads stay byte-exact."""

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from app.optimize.safe_mode import apply_safe_mode
from app.optimize.text_transforms import collapse_blank_lines, compact_json, strip_trailing_whitespace


def only_whitespace_removed(original: str, optimized: str) -> bool:
    """True when ``optimized`` is ``original`` with some whitespace characters deleted and nothing else."""
    j = 0
    for char in original:
        if j < len(optimized) and optimized[j] == char:
            j += 1
        elif not char.isspace():
            return False
    return j == len(optimized)


def test_example_request_openai() -> None:
    messages = [
        {"role": "system", "content": "You are terse.   \n\n\n\nAnswer in English.  "},
        {"role": "user", "content": [
            {"type": "text", "text": "Data:\n{\n  \"a\": 1,\n  \"b\": [1, 2.50, \"x  y\"]\n}\n"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA   "}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\n  \"x\": 1\n}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\n  \"r\": 2\n}   \n\n\n"},
    ]
    snapshot = json.loads(json.dumps(messages))
    outcome = apply_safe_mode("openai", "gpt-4o", messages, None)
    assert messages == snapshot  # inputs never mutated
    assert outcome.messages[0]["content"] == "You are terse.\n\nAnswer in English."
    assert outcome.messages[1]["content"][0]["text"] == 'Data:\n{"a":1,"b":[1,2.50,"x  y"]}\n'
    assert outcome.messages[1]["content"][1] == messages[1]["content"][1]
    assert outcome.messages[2:] == messages[2:]
    assert outcome.applied == [
        {"name": "json_compact", "count": 1, "tokensRemoved": 9},
        {"name": "trailing_whitespace", "count": 2, "tokensRemoved": 3},
        {"name": "blank_lines", "count": 1, "tokensRemoved": 0},
    ]
    assert outcome.tokens_before - outcome.tokens_after == 12
    assert sum(item["tokensRemoved"] for item in outcome.applied) == 12


def test_anthropic_native_body_text_blocks_only() -> None:
    body = {
        "model": "claude-3-7-sonnet-latest", "max_tokens": 100,
        "system": [{"type": "text", "text": "Rules.  \n\n\n\nMore.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "raw   \n\n\n"},
            {"type": "text", "text": "Question?   "}]}],
        "tools": [{"name": "t", "description": "d   \n\n\n", "input_schema": {"type": "object"}}],
    }
    outcome = apply_safe_mode("anthropic", "claude-3-7-sonnet-latest",
                              [{"role": "system", "content": "Rules.  \n\n\n\nMore."},
                               {"role": "user", "content": "Question?   "}], body)
    assert outcome.native_body is not None
    assert outcome.native_body["system"] == [{"type": "text", "text": "Rules.\n\nMore.",
                                              "cache_control": {"type": "ephemeral"}}]
    assert outcome.native_body["messages"][0]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "raw   \n\n\n"},
        {"type": "text", "text": "Question?"}]
    assert outcome.native_body["tools"] == body["tools"]
    assert outcome.estimated


def test_code_is_never_touched() -> None:
    code = ("```python\ndef f(x):   \n    return x  \n\n\n\n    # end\n```\n"
            "    indented code   \n\n\n    still code\t\n")
    assert strip_trailing_whitespace(code) == (code, 0)
    assert collapse_blank_lines(code) == (code, 0)
    assert compact_json(code) == (code, 0)
    unclosed = "```\n{\n  \"a\": 1\n}\n   \n\n\n"
    assert apply_safe_mode("openai", "gpt-4o", [{"role": "user", "content": unclosed}], None).applied == []


def test_json_inside_fence_or_invalid_json_kept() -> None:
    text = "```json\n{\n  \"a\": 1\n}\n```\n{\n  \"broken\": \n}\n"
    assert compact_json(text) == (text, 0)


def test_json_with_trailing_prose_on_last_line_kept() -> None:
    text = '{\n  "a": 1\n} and more text\n'
    assert compact_json(text) == (text, 0)


# -- property test ---------------------------------------------------------------------------------------
_words = st.builds(str.__add__, st.sampled_from("abcXYZ.#"),
                   st.text(alphabet="abcdefghij XYZ.,:;!?-_()'\"#*", max_size=30))
_ws = st.text(alphabet=" \t", max_size=4)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(alphabet="ab \t{}[]\",:\\", max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(alphabet="kK \"", max_size=4), children, max_size=3),
    max_leaves=8,
)


@st.composite
def pieces(draw: st.DrawFn) -> tuple[str, list[str], list[tuple[str, str]]]:
    """A prompt made of prose, blank runs, fenced and indented code, and pretty JSON; plus what must survive."""
    parts: list[str] = []
    code_blocks: list[str] = []
    json_blocks: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["prose", "blank", "fence", "indented", "json"]))
        if kind == "prose":
            parts.append(draw(_words) + draw(_ws) + "\n")
        elif kind == "blank":
            parts.append("\n".join(draw(_ws) for _ in range(draw(st.integers(1, 4)))) + "\n")
        elif kind == "fence":
            body = "\n".join(draw(_ws) + draw(_words) + draw(_ws) for _ in range(draw(st.integers(0, 3))))
            block = "```py\n" + body + "\n" + draw(_ws) + "\n\n\n```\n"
            code_blocks.append(block)
            parts.append(block)
        elif kind == "indented":
            block = "    " + draw(_words) + draw(_ws) + "\n" + "\t" + draw(_words) + "  \n"
            code_blocks.append(block)
            parts.append(block)
        else:
            value = draw(st.dictionaries(st.text(alphabet="kq ", max_size=3), _json_values, min_size=1,
                                         max_size=3) | st.lists(_json_values, min_size=1, max_size=3))
            pretty = json.dumps(value, indent=draw(st.sampled_from([1, 2, 4])), ensure_ascii=False)
            json_blocks.append((pretty, json.dumps(value, separators=(",", ":"), ensure_ascii=False)))
            parts.append(pretty + "\n")
    return "".join(parts), code_blocks, json_blocks


@settings(max_examples=300, deadline=None)
@given(pieces(), st.sampled_from([("openai", "gpt-4o"), ("openai", "gpt-4"), ("mistral", "mistral-large")]))
def test_property_only_whitespace_and_json_formatting_change(
        prompt: tuple[str, list[str], list[tuple[str, str]]], target: tuple[str, str]) -> None:
    text, code_blocks, json_blocks = prompt
    tool_call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": text}}
    messages = [
        {"role": "system", "content": text},
        {"role": "user", "content": [{"type": "text", "text": text}]},
        {"role": "assistant", "content": text, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": "c", "content": text},
    ]
    outcome = apply_safe_mode(target[0], target[1], messages, None)
    optimized = outcome.messages[0]["content"]
    assert only_whitespace_removed(text, optimized)
    assert outcome.messages[1]["content"][0]["text"] == optimized
    assert outcome.messages[2]["content"] == optimized
    assert outcome.messages[2]["tool_calls"] == [tool_call]
    assert outcome.messages[3] == messages[3]
    for block in code_blocks:
        assert re.sub(r"\n+$", "", block.lstrip("\n")) in optimized
    for pretty, compact in json_blocks:
        assert compact in optimized or pretty in optimized
    assert outcome.tokens_before - outcome.tokens_after == sum(a["tokensRemoved"] for a in outcome.applied)
    again = apply_safe_mode(target[0], target[1], outcome.messages, None)
    assert again.messages == outcome.messages and again.applied == []


@settings(max_examples=150, deadline=None)
@given(pieces())
def test_property_anthropic_body_only_text_blocks_change(prompt: tuple[str, list[str], list[tuple[str, str]]]
                                                         ) -> None:
    text, code_blocks, _ = prompt
    body = {
        "model": "claude-3-7-sonnet-latest", "max_tokens": 64,
        "system": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": text},
            {"role": "assistant", "content": [{"type": "text", "text": text},
                                              {"type": "tool_use", "id": "t", "name": "f", "input": {"q": text}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": text},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                      "data": text}}]},
        ],
        "tools": [{"name": "f", "description": text, "input_schema": {"type": "object"}}],
    }
    snapshot = json.loads(json.dumps(body))
    outcome = apply_safe_mode("anthropic", "claude-3-7-sonnet-latest", [{"role": "user", "content": text}], body)
    assert body == snapshot
    new = outcome.native_body
    assert new is not None
    optimized = new["system"][0]["text"]
    assert only_whitespace_removed(text, optimized)
    assert new["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert new["messages"][0]["content"] == optimized == outcome.messages[0]["content"]
    assert new["messages"][1]["content"][0]["text"] == optimized
    assert new["messages"][1]["content"][1] == body["messages"][1]["content"][1]
    assert new["messages"][2] == body["messages"][2]
    assert new["tools"] == body["tools"]
    for block in code_blocks:
        assert re.sub(r"\n+$", "", block.lstrip("\n")) in optimized
