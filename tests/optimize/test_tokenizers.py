"""Token counts against provider-reported prompt_tokens of recorded OpenAI answers."""

import pytest

from app.optimize.tokenizers import count_messages, count_text, openai_encoding_name

# The OpenAI cookbook's "How to count tokens with tiktoken" example; the notebook prints the API's own
# prompt_tokens next to the count: 129 on gpt-3.5-turbo / gpt-4 (cl100k_base), 124 on gpt-4o (o200k_base).
COOKBOOK = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate "
                                  "jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant",
     "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to "
                                                          "touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant",
     "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client "
                                "deliverable."},
]


@pytest.mark.parametrize(("model", "expected", "encoding"), [
    ("gpt-3.5-turbo-0613", 129, "cl100k_base"),
    ("gpt-4-0613", 129, "cl100k_base"),
    ("gpt-4o", 124, "o200k_base"),
    ("gpt-4o-mini", 124, "o200k_base"),
])
def test_cookbook_example_matches_api_prompt_tokens(model: str, expected: int, encoding: str) -> None:
    count = count_messages("openai", model, COOKBOOK)
    assert (count.tokens, count.estimated, count.encoding) == (expected, False, encoding)


def test_recorded_gpt35_answer() -> None:
    # Recorded answer of gpt-3.5-turbo-0613: usage.prompt_tokens 19.
    messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}]
    assert count_messages("openai", "gpt-3.5-turbo", messages).tokens == 19


def test_recorded_gpt4o_answer() -> None:
    # Recorded answer of gpt-4o-2024-08-06: usage.prompt_tokens 28.
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Test prompt using gpt-3.5-turbo"}]
    count = count_messages("azure_openai", "gpt-4o", messages)
    assert (count.tokens, count.estimated) == (28, False)


@pytest.mark.parametrize(("model", "encoding"), [
    ("gpt-4.1-mini", "o200k_base"), ("gpt-5", "o200k_base"), ("gpt-5-nano", "o200k_base"), ("o1", "o200k_base"),
    ("o3-mini", "o200k_base"), ("o4-mini", "o200k_base"), ("gpt-4-turbo", "cl100k_base"),
    ("gpt-3.5-turbo-16k", "cl100k_base"), ("claude-3-7-sonnet", None), ("mistral-large", None),
])
def test_encoding_by_family(model: str, encoding: str | None) -> None:
    assert openai_encoding_name("openai", model) == encoding


def test_image_parts_are_not_text() -> None:
    text_only = [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}]}]
    with_image = [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 5000}},
    ]}]
    plain = count_messages("openai", "gpt-4o", text_only)
    image = count_messages("openai", "gpt-4o", with_image)
    assert image.tokens == plain.tokens == 3 + 1 + 6 + 3  # framing + role + 6 text tokens + priming
    assert image.estimated  # the provider adds image tokens we do not reproduce


def test_other_providers_are_estimated_and_calibrated() -> None:
    messages = [{"role": "user", "content": "Hello!"}]
    raw = count_messages("anthropic", "claude-3-7-sonnet", messages)
    assert (raw.tokens, raw.estimated, raw.encoding) == (9, True, "o200k_base")
    assert count_messages("anthropic", "claude-3-7-sonnet", messages, ratio=1.5).tokens == 14


def test_special_token_lookalikes_are_plain_text() -> None:
    assert count_text("openai", "gpt-4o", "<|endoftext|>").tokens == 7
