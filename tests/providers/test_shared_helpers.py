"""The helpers several adapters share (canonical, credentials, anthropic.beta_header): one contract each."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import ApiError
from providers import aws_bedrock, canonical, google_vertex
from providers.anthropic import beta_header
from providers.base import Usage
from providers.credentials import config_string, secret_string, secrets_bundle


@pytest.mark.parametrize(("value", "expected"), [
    (7, 7), (0, 0), (-3, 0), (True, 0), (False, 0), (None, 0), (2.5, 0), ("7", 0), ([], 0),
])
def test_token_count(value: Any, expected: int) -> None:
    assert canonical.token_count(value) == expected


def test_cache_exclusive_usage_adds_cache_buckets_back() -> None:
    usage = {"in": 10, "out": 4, "read": 3, "write": True}
    assert canonical.cache_exclusive_usage(usage, "in", "out", "read", "write") == Usage(
        input_tokens=13, cached_input_tokens=3, cache_write_input_tokens=0, output_tokens=4)
    assert canonical.cache_exclusive_usage("junk", "in", "out", "read", "write") == Usage()


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "3", None])
def test_positive_int_refuses(value: Any) -> None:
    with pytest.raises(ApiError) as caught:
        canonical.positive_int(value, "max_tokens")
    assert (caught.value.code, caught.value.param) == ("invalid_provider_options", "max_tokens")
    assert "max_tokens must be a positive integer" in str(caught.value)


def test_positive_int_accepts() -> None:
    assert canonical.positive_int(12, "max_tokens") == 12


def test_object_option() -> None:
    assert canonical.object_option({}, "generationConfig") == {}
    assert canonical.object_option({"generationConfig": None}, "generationConfig") == {}
    assert canonical.object_option({"generationConfig": {"topK": 2}}, "generationConfig") == {"topK": 2}
    with pytest.raises(ApiError) as caught:
        canonical.object_option({"generationConfig": []}, "generationConfig")
    assert (caught.value.code, caught.value.param) == ("invalid_provider_options", "generationConfig")
    assert "generationConfig must be an object" in str(caught.value)


@pytest.mark.parametrize(("options", "expected"), [
    ({}, None), ({"anthropic_beta": None}, None), ({"anthropic_beta": "a"}, "a"),
    ({"anthropic_beta": ["a", "b"]}, "a,b"), ({"anthropic_beta": []}, ""),
])
def test_beta_header(options: dict[str, Any], expected: str | None) -> None:
    assert beta_header(options) == expected


@pytest.mark.parametrize("value", [["a", 1], 5, {"a": "b"}])
def test_beta_header_refuses(value: Any) -> None:
    with pytest.raises(ApiError) as caught:
        beta_header({"anthropic_beta": value})
    assert (caught.value.code, caught.value.param) == ("invalid_provider_options", "anthropic_beta")


@pytest.mark.parametrize(("read", "section", "code"), [
    (config_string, "config", "invalid_provider_config"),
    (secret_string, "secrets", "invalid_provider_secrets"),
])
def test_string_fields(read: Any, section: str, code: str) -> None:
    assert read({"f": " v "}, "f") == "v"
    assert read({}, "f", required=False) is None
    for bad in ({}, {"f": " "}, {"f": 3}):
        with pytest.raises(ApiError) as caught:
            read(bad, "f")
        assert (caught.value.code, caught.value.param) == (code, f"{section}.f")
        assert f"{section}.f must be a non-empty string" in str(caught.value)


def test_secrets_bundle_passes_known_fields_through() -> None:
    secrets = {"a": "1", "b": "2"}
    assert secrets_bundle("p", None, secrets, ("a",), ("b",)) is secrets


@pytest.mark.parametrize(("validate", "api_key", "secrets", "message", "param"), [
    (aws_bedrock.validate_secrets, "k", None,
     "aws_bedrock takes secrets {accessKeyId, secretAccessKey, sessionToken?}, not apiKey", "apiKey"),
    (aws_bedrock.validate_secrets, None, {}, "secrets {accessKeyId, secretAccessKey} are required", "secrets"),
    (aws_bedrock.validate_secrets, None, {"region": "x"}, "secrets.region is not accepted by aws_bedrock",
     "secrets.region"),
    (google_vertex.validate_secrets, "k", None,
     "google_vertex takes secrets {clientEmail, privateKey, privateKeyId?}, not apiKey", "apiKey"),
    (google_vertex.validate_secrets, None, [], "secrets {clientEmail, privateKey} are required", "secrets"),
    (google_vertex.validate_secrets, None, {"type": "service_account"},
     "secrets.type is not accepted by google_vertex", "secrets.type"),
])
def test_secrets_bundle_messages(validate: Any, api_key: str | None, secrets: Any, message: str,
                                 param: str) -> None:
    with pytest.raises(ApiError) as caught:
        validate(api_key, secrets)
    assert (caught.value.code, caught.value.param) == ("invalid_provider_secrets", param)
    assert message in str(caught.value)
