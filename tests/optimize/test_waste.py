"""Each waste category on an input made for it; code and tool payloads never count as whitespace waste."""

import json

from app.optimize import waste
from app.optimize.templates import mask, template_id
from app.optimize.tokenizers import text_tokens


def tokens(messages: list[dict]) -> dict[str, int]:
    return waste.analyze("ten_a", "openai", "gpt-4o", messages).tokens


def test_whitespace_waste() -> None:
    messages = [{"role": "user", "content": "Summarize this.   \nLine two.  \n\n\n\n\nLine three.\t\n"}]
    # "Summarize this.   " before "Line two." is a Markdown hard break, so it is not waste.
    assert tokens(messages) == {"whitespace": 3, "pretty_json": 0, "duplicated_content": 0}


def test_prompt_full_of_code_has_zero_whitespace_waste() -> None:
    messages = [{"role": "user", "content": (
        "```python\ndef f(x):    \n    return x   \n\n\n\n\n```\n"
        "    indented   \n\n\n\n    more\t\n"
        "~~~js\nconst a = 1;   \n\n\n\n~~~\n")}]
    assert tokens(messages) == {"whitespace": 0, "pretty_json": 0, "duplicated_content": 0}


def test_tool_arguments_and_results_are_never_waste() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function", "function": {
            "name": "f", "arguments": "{\n   \"a\":  1   \n}\n\n\n"}}]},
        {"role": "tool", "tool_call_id": "1", "content": "{\n  \"r\": 1\n}   \n\n\n\n"},
    ]
    assert tokens(messages) == {"whitespace": 0, "pretty_json": 0, "duplicated_content": 0}


def test_pretty_json_waste_equals_compact_difference() -> None:
    data = {"users": [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}]}
    pretty = json.dumps(data, indent=2)
    assert text_tokens(pretty) - text_tokens(json.dumps(data, separators=(",", ":"))) == 24
    assert tokens([{"role": "user", "content": pretty}]) == {"whitespace": 0, "pretty_json": 24,
                                                              "duplicated_content": 0}


def test_duplicated_content_counts_extra_copies() -> None:
    paragraph = ("The quarterly report must include revenue, churn, and net retention for every region we "
                 "operate in.")
    assert text_tokens(paragraph) == 19
    messages = [{"role": "system", "content": paragraph},
                {"role": "user", "content": f"Context:\n\n{paragraph}\n\nAgain:\n\n{paragraph}"}]
    assert tokens(messages) == {"whitespace": 0, "pretty_json": 0, "duplicated_content": 38}


def test_short_repeats_are_not_duplicated_content() -> None:
    messages = [{"role": "user", "content": "Yes.\n\nYes.\n\nYes."}]
    assert tokens(messages)["duplicated_content"] == 0


def test_prefix_hash_and_size() -> None:
    system = "Rule: always answer politely.\n" * 10
    a = waste.analyze("ten_a", "openai", "gpt-4o", [{"role": "system", "content": system},
                                                     {"role": "user", "content": "one"}])
    b = waste.analyze("ten_a", "openai", "gpt-4o", [{"role": "system", "content": system},
                                                     {"role": "user", "content": "two"}])
    other_tenant = waste.analyze("ten_b", "openai", "gpt-4o", [{"role": "system", "content": system}])
    other_model = waste.analyze("ten_a", "openai", "gpt-4o-mini", [{"role": "system", "content": system}])
    assert a.prefix_hash == b.prefix_hash
    assert len({a.prefix_hash, other_tenant.prefix_hash, other_model.prefix_hash}) == 3
    assert a.prefix_tokens == 3 + 1 + text_tokens(system)


def test_repeated_prefix_needs_cacheable_size_and_subtracts_cached() -> None:
    big = waste.analyze("t", "openai", "gpt-4o", [{"role": "system", "content": "Policy line number.\n" * 400}])
    assert big.prefix_tokens >= waste.MIN_CACHEABLE_PREFIX_TOKENS
    assert waste.repeated_prefix_tokens(big, True, 0) == big.prefix_tokens
    assert waste.repeated_prefix_tokens(big, True, 1024) == big.prefix_tokens - 1024
    assert waste.repeated_prefix_tokens(big, False, 0) == 0
    small = waste.analyze("t", "openai", "gpt-4o", [{"role": "system", "content": "Be brief."}])
    assert waste.repeated_prefix_tokens(small, True, 0) == 0


def test_template_fingerprint_masks_variables() -> None:
    first = [{"role": "system", "content": "Ticket 4521 from ann@corp.io on 2026-12-03 (ref 9f8e7d6c5b)."}]
    second = [{"role": "system", "content": "Ticket 88 from bob@shop.example on 2025-01-31 (ref 0a1b2c3d4e)."}]
    assert mask(first[0]["content"]) == "Ticket <n> from <email> on <date> (ref <hex>)."
    assert template_id("ten_a", first) == template_id("ten_a", second)
    assert template_id("ten_a", first) != template_id("ten_b", first)
    assert template_id("ten_a", [{"role": "user", "content": "Other"}]) != template_id("ten_a", first)
    assert template_id("ten_a", []) is None
