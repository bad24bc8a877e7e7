"""Exact-dollar ledger arithmetic: each token billed once, tiers by prompt size, unknown → None + reason."""

from decimal import Decimal

import pytest

from app.optimize.pricing import DATA_VERSION, Pricer, nanos_to_usd, usd_to_nanos
from providers.base import Usage

PRICER = Pricer()


def test_anthropic_cache_write_billed_once() -> None:
    # Normalized: inputTokens = 3 + 12304 (Anthropic's input_tokens excludes its cache buckets).
    usage = Usage(input_tokens=12307, cache_write_input_tokens=12304, output_tokens=550)
    price = PRICER.price("anthropic", "claude-3-7-sonnet-20250219", usage)
    assert price.cost_nanos == 54_399_000
    assert price.cost_usd == Decimal("0.054399")
    assert price.price_version == DATA_VERSION
    assert price.rates is not None
    assert (price.rates.input, price.rates.cache_write, price.rates.output) == (
        Decimal("3"), Decimal("3.75"), Decimal("15"))


def test_gemini_long_context_tier_cached_and_uncached_once_each() -> None:
    usage = Usage(input_tokens=262960, cached_input_tokens=257955, output_tokens=0)
    price = PRICER.price("gemini", "gemini-2.5-pro", usage)
    # 5005 uncached × $2.50/M + 257955 cached × $0.25/M (the >200k tier)
    assert price.cost_nanos == 12_512_500 + 64_488_750
    assert price.rates is not None and price.rates.tier_start == 200_000 and price.rates.tiered


def test_gemini_below_tier_uses_base_rate() -> None:
    price = PRICER.price("gemini", "gemini-2.5-pro", Usage(input_tokens=200_000, output_tokens=1000))
    assert price.cost_nanos == 250_000_000 + 10_000_000
    assert price.rates is not None and price.rates.tier_start is None


def test_openai_cached_prompt_tokens() -> None:
    usage = Usage(input_tokens=2006, cached_input_tokens=1920, output_tokens=300)
    price = PRICER.price("openai", "gpt-4o-2024-08-06", usage)
    # 86 × 2.5 + 1920 × 1.25 + 300 × 10, per million
    assert price.cost_nanos == 215_000 + 2_400_000 + 3_000_000


@pytest.mark.parametrize(("provider", "model", "matched"), [
    ("aws_bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", "aws/"),
    ("aws_bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "aws/"),
    ("azure_openai", "gpt-4o", "azure/gpt-4o"),
    ("google_vertex", "publishers/google/models/gemini-2.5-flash", "google/gemini-2.5-flash"),
    ("google_vertex", "claude-sonnet-4@20250514", "google/claude-4-sonnet"),
    ("gemini", "models/gemini-2.5-pro", "google/gemini-2.5-pro"),
    ("openai_compatible", "gpt-4o", "openai/gpt-4o"),
    ("xai", "grok-3", "x-ai/grok-3"),
    ("deepseek", "deepseek-chat", "deepseek/deepseek-chat"),
])
def test_provider_mapping(provider: str, model: str, matched: str) -> None:
    price = PRICER.price(provider, model, Usage(input_tokens=1000, output_tokens=10))
    assert price.cost_nanos is not None and price.matched is not None
    assert price.matched.startswith(matched)


@pytest.mark.parametrize(("provider", "model", "reason_part"), [
    ("openai", "no-such-model-xyz", "not in genai-prices"),
    ("openai_compatible", "my-local-llm", "any provider"),
    ("aws_bedrock", "arn:aws:bedrock:us-east-1:1:application-inference-profile/x", "ARN"),
])
def test_unknown_is_none_with_reason(provider: str, model: str, reason_part: str) -> None:
    price = PRICER.price(provider, model, Usage(input_tokens=1000, output_tokens=10))
    assert price.cost_nanos is None and price.cost_usd is None
    assert price.reason is not None and reason_part in price.reason


def test_verified_savings_net_of_write_premium() -> None:
    model = "claude-3-7-sonnet-20250219"
    write = Usage(input_tokens=12307, cache_write_input_tokens=12304, output_tokens=550)
    read = Usage(input_tokens=12307, cached_input_tokens=12304, output_tokens=550)
    assert PRICER.verified_savings_nanos("anthropic", model, write) == -9_228_000  # 12304 × $0.75/M premium
    assert PRICER.verified_savings_nanos("anthropic", model, read) == 33_220_800   # 12304 × $2.70/M discount
    assert PRICER.verified_savings_nanos("openai", "no-such-model-xyz", read) == 0


def test_input_cost_uses_tier_of_context() -> None:
    assert PRICER.input_cost_nanos("openai", "gpt-4o", 1000) == 2_500_000
    assert PRICER.input_cost_nanos("gemini", "gemini-2.5-pro", 1000, 250_000) == 2_500_000
    assert PRICER.input_cost_nanos("gemini", "gemini-2.5-pro", 1000, input_tokens_context=1000) == 1_250_000
    assert PRICER.input_cost_nanos("openai", "no-such-model-xyz", 1000) is None


def test_overrides_win_and_stamp_version() -> None:
    pricer = Pricer('{"openai_compatible/my-llm": {"input": 1, "output": "2", "cacheRead": 0.1}}')
    assert pricer.version.startswith(DATA_VERSION + "+overrides:") and len(pricer.version) == len(
        DATA_VERSION) + len("+overrides:") + 8
    price = pricer.price("openai_compatible", "My-LLM", Usage(input_tokens=1000, cached_input_tokens=500,
                                                                output_tokens=10))
    assert price.cost_nanos == 500_000 + 50_000 + 20_000
    assert price.matched == "override:openai_compatible/My-LLM"


@pytest.mark.parametrize("raw", ["not json", "[]", '{"nope/x": {"input": 1, "output": 1}}',
                                 '{"openai/x": {"input": 1}}', '{"openai/x": {"input": -1, "output": 1}}',
                                 '{"openai/x": {"input": 1, "output": 1, "bogus": 1}}',
                                 '{"openai/x": {"input": true, "output": 1}}'])
def test_bad_overrides_raise_clearly(raw: str) -> None:
    with pytest.raises(ValueError, match="KILLTOKEN_PRICE_OVERRIDES"):
        Pricer(raw)


def test_nano_rounding_half_even() -> None:
    assert usd_to_nanos(Decimal("0.0000000005")) == 0
    assert usd_to_nanos(Decimal("0.0000000015")) == 2
    assert nanos_to_usd(54_399_000) == 0.054399
    assert nanos_to_usd(None) is None
