"""The cache key: canonical JSON, what is in the key, and what never is."""

from __future__ import annotations

import copy
import json

import pytest

from app.errors import ApiError
from app.services.cache_key import (
    NON_ANSWER_FIELDS,
    body_fingerprint,
    cache_key,
    canonical_json,
    normalize_endpoint,
)

BASE = {
    "tenant_id": "ten_a",
    "credential_id": "cred_1",
    "credential_version": 1,
    "provider": "anthropic",
    "model": "claude-sonnet-4",
    "endpoint": "https://api.anthropic.com/v1/messages",
    "entry_format": "killtoken",
}

BODY = {
    "provider": "anthropic",
    "model": "claude-sonnet-4",
    "messages": [{"role": "user", "content": "hello"}],
    "providerOptions": {"temperature": 0, "top_k": 5},
}


def key(body: dict | None = None, **changes: object) -> str:
    return cache_key(**{**BASE, **changes}, body=copy.deepcopy(BODY if body is None else body))


# --- canonical JSON ---------------------------------------------------------------------------------------------

def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": True}]}) == b'{"a":[1,{"c":true,"d":null}],"b":1}'


def test_key_order_does_not_matter_at_any_depth() -> None:
    one = {"x": {"b": 1, "a": 2}, "y": [{"q": 1, "p": 2}]}
    two = json.loads('{"y": [{"p": 2, "q": 1}], "x": {"a": 2, "b": 1}}')
    assert canonical_json(one) == canonical_json(two)


@pytest.mark.parametrize("text", ["0", "0.0", "-0.0", "0e0", "0E+0", "-0", "0.000"])
def test_every_zero_is_one_number(text: str) -> None:
    assert canonical_json(json.loads(text)) == b"0"


@pytest.mark.parametrize("text,expected", [
    ("1", b"1"), ("1.0", b"1"), ("1e0", b"1"), ("10E-1", b"1"), ("100.00", b"100"), ("1e3", b"1000"),
    ("-2.50", b"-2.5"), ("0.1", b"0.1"), ("1.5e-7", b"1.5e-07"),
])
def test_one_form_per_number(text: str, expected: bytes) -> None:
    assert canonical_json(json.loads(text)) == expected


def test_big_ints_stay_exact() -> None:
    big = 2**64 + 1
    assert canonical_json(big) == str(big).encode()
    assert canonical_json(big) != canonical_json(big - 1)
    assert canonical_json(json.loads("123456789012345678901234567890")) == b"123456789012345678901234567890"


def test_integral_float_beyond_2_pow_53_is_its_exact_value() -> None:
    assert canonical_json(2.0**60) == canonical_json(2**60)


def test_bool_is_not_a_number() -> None:
    assert canonical_json(True) == b"true"
    assert canonical_json([True, 1, False, 0]) == b"[true,1,false,0]"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '{"a": [1, NaN]}', "1e400"])
def test_nan_and_infinity_are_refused(text: str) -> None:
    with pytest.raises(ApiError) as err:
        canonical_json(json.loads(text))
    assert err.value.code == "invalid_request"
    assert err.value.status == 400


def test_utf8_not_escaped() -> None:
    assert canonical_json({"t": "héllo ✓ 日本"}) == '{"t":"héllo ✓ 日本"}'.encode()
    assert canonical_json("\u00e9") != canonical_json("e\u0301")  # no Unicode normalization: different text


def test_lone_surrogate_does_not_crash() -> None:
    assert canonical_json(json.loads('"\\ud800"'))


def test_tuple_is_an_array_and_non_json_values_are_refused() -> None:
    assert canonical_json((1, 2)) == b"[1,2]"
    with pytest.raises(TypeError):
        canonical_json({"a": {1, 2}})
    with pytest.raises(TypeError):
        canonical_json({1: "int key would collide with '1'"})


# --- what is in the key -----------------------------------------------------------------------------------------

def test_key_shape() -> None:
    value = key()
    assert value.startswith("kt:cache:")
    digest = value[len("kt:cache:"):]
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_same_request_same_key_and_deterministic() -> None:
    assert key() == key()


def test_json_key_order_and_zero_forms_hit() -> None:
    reordered = json.loads(
        '{"providerOptions": {"top_k": 5.0, "temperature": 0.0}, "messages": [{"content": "hello", '
        '"role": "user"}], "model": "claude-sonnet-4", "provider": "anthropic"}'
    )
    assert key(reordered) == key()


def test_top_k_5_vs_50_misses() -> None:
    other = copy.deepcopy(BODY)
    other["providerOptions"]["top_k"] = 50
    assert key(other) != key()


def test_two_tenants_same_body_different_keys() -> None:
    assert key(tenant_id="ten_a") != key(tenant_id="ten_b")


def test_tenant_is_hashed_first_and_cannot_be_confused_with_other_fields() -> None:
    # Shifting text between adjacent fields never produces the same material.
    assert key(tenant_id="ab", credential_id="c") != key(tenant_id="a", credential_id="bc")


def test_credential_rotation_and_version_bump_miss() -> None:
    assert key(credential_version=1) != key(credential_version=2)
    assert key(credential_id="cred_1") != key(credential_id="cred_2")


@pytest.mark.parametrize("field,value", [
    ("provider", "openai"), ("model", "claude-opus-4"), ("entry_format", "anthropic"),
    ("endpoint", "https://other.example.com/v1/messages"),
])
def test_every_context_field_is_in_the_key(field: str, value: str) -> None:
    assert key(**{field: value}) != key()


def test_non_answer_fields_are_exactly_the_short_list() -> None:
    assert NON_ANSWER_FIELDS == frozenset({"metadata", "idempotencyKey", "cachePolicy"})


def test_metadata_idempotency_key_and_cache_policy_are_ignored() -> None:
    extra = {
        **copy.deepcopy(BODY),
        "metadata": {"feature": "search", "user": "u1"},
        "idempotencyKey": "retry-123",
        "cachePolicy": {"exactCache": "read_write"},
    }
    assert key(extra) == key()
    assert body_fingerprint(extra) == body_fingerprint(BODY)


def test_only_top_level_non_answer_fields_are_dropped() -> None:
    nested = copy.deepcopy(BODY)
    nested["providerOptions"]["metadata"] = {"user_id": "x"}
    assert key(nested) != key()


def test_unknown_provider_options_are_in_the_key() -> None:
    other = copy.deepcopy(BODY)
    other["providerOptions"]["some_future_knob"] = True
    assert key(other) != key()


@pytest.mark.parametrize("change", [
    lambda b: b["messages"].append({"role": "assistant", "content": "hi"}),
    lambda b: b["messages"][0].update(content=[{"type": "text", "text": "hello"}]),
    lambda b: b.update(tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]),
    lambda b: b.update(tool_choice="auto"),
    lambda b: b.update(response_format={"type": "json_object"}),
    lambda b: b.update(optimizationMode="safe"),
    lambda b: b["providerOptions"].update(temperature=0.5),
    lambda b: b["messages"][0].update(content="hello "),
    lambda b: b.update(unknownTopLevel=1),
])
def test_any_answer_field_change_misses(change) -> None:  # type: ignore[no-untyped-def]
    other = copy.deepcopy(BODY)
    change(other)
    assert key(other) != key()


def test_image_bytes_are_in_the_key() -> None:
    def with_image(data: str) -> dict:
        body = copy.deepcopy(BODY)
        body["messages"][0]["content"] = [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}]
        return body

    assert key(with_image("AAAA")) != key(with_image("AAAB"))


def test_key_name_contains_no_secret_or_input_text() -> None:
    secret = "sk-live-SECRET-abcdefghijklmnop"
    body = {**copy.deepcopy(BODY), "messages": [{"role": "user", "content": secret}]}
    value = cache_key(**{**BASE, "endpoint": f"https://user:{secret}@api.example.com/v1"}, body=body)
    assert secret not in value and "user" not in value and "ten_a" not in value and "cred_1" not in value


def test_endpoint_userinfo_and_fragment_dropped_case_folded_query_kept() -> None:
    assert normalize_endpoint("HTTPS://User:Pw@Example.COM:8443/a/B?api-version=1#x") == (
        "https://example.com:8443/a/B?api-version=1")
    assert key(endpoint="https://u:p@api.anthropic.com/v1/messages") == key()
    assert key(endpoint="https://x.openai.azure.com/d?api-version=2024-10-21") != key(
        endpoint="https://x.openai.azure.com/d?api-version=2025-01-01")
    assert normalize_endpoint("us-east-1") == "us-east-1"
    assert normalize_endpoint("") == ""


@pytest.mark.parametrize("bad", [
    {"tenant_id": ""}, {"tenant_id": None}, {"credential_id": ""}, {"credential_version": "1"},
    {"credential_version": True}, {"entry_format": "gemini"},
])
def test_missing_context_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        cache_key(**{**BASE, **bad}, body=BODY)


def test_fingerprint_detects_a_different_body_and_context() -> None:
    other = copy.deepcopy(BODY)
    other["providerOptions"]["top_k"] = 50
    assert body_fingerprint(other) != body_fingerprint(BODY)
    assert len(body_fingerprint(BODY)) == 64
    assert body_fingerprint(BODY, context={"provider": "openai"}) != body_fingerprint(
        BODY, context={"provider": "anthropic"})
    assert body_fingerprint(BODY, context={}) == body_fingerprint(BODY)


def test_key_does_not_mutate_body() -> None:
    body = {**copy.deepcopy(BODY), "metadata": {"feature": "x"}, "providerOptions": {"t": 1.0}}
    before = copy.deepcopy(body)
    key(body)
    body_fingerprint(body)
    assert body == before and isinstance(body["providerOptions"]["t"], float)


def test_nan_error_names_the_body_path() -> None:
    body = {**copy.deepcopy(BODY), "providerOptions": {"temperature": float("nan")}}
    for build in (lambda: key(body), lambda: body_fingerprint(body)):
        with pytest.raises(ApiError) as err:
            build()
        assert err.value.message.startswith("$.providerOptions.temperature:")
