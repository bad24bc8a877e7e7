"""The one pricing function: normalized usage → exact cost in nanodollars, from genai-prices data.

Costs are integers of 1e-9 USD ("nanos") so rollups sum exactly; every conversion from the exact Decimal
price rounds once, ROUND_HALF_EVEN to the nano. An unknown model is priced ``None`` with a reason, never 0.
Operator overrides (``KILLTOKEN_PRICE_OVERRIDES``) take precedence over genai-prices for the models they
name. genai-prices' ``input_tokens`` includes cache reads and writes (it decomposes them itself), which is
exactly our normalized ``Usage.input_tokens`` (DESIGN.md §5), so each token is billed once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import genai_prices
from genai_prices.types import ModelPrice, TieredPrices

from providers.base import Usage

NANOS_PER_USD = Decimal(1_000_000_000)
NANOS_PER_TOKEN_AT_ONE_USD_PER_MTOK = Decimal(1000)
DATA_VERSION = f"genai-prices@{genai_prices.__version__}"

# Our provider id → genai-prices provider ids tried in order; None means "match by model name".
PROVIDER_MAP: dict[str, tuple[str | None, ...]] = {
    "openai": ("openai",),
    "anthropic": ("anthropic",),
    "gemini": ("google",),
    "google_vertex": ("google",),
    "mistral": ("mistral",),
    "deepseek": ("deepseek",),
    "openrouter": ("openrouter",),
    "together": ("together",),
    "perplexity": ("perplexity",),
    "xai": ("x-ai",),
    "azure_openai": ("azure", "openai"),
    "openai_compatible": (None,),
    "aws_bedrock": ("aws",),
}

OVERRIDE_FIELDS = {"input": "input", "output": "output", "cacheRead": "cache_read",
                   "cacheWrite": "cache_write"}
_VERTEX_PATH = re.compile(
    r"^(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/[^/]+/)?models/(?P<model>[^/]+)$")


@dataclass(frozen=True)
class Rates:
    """USD per million tokens at the tier the request's input size selects; None where not priced."""

    input: Decimal | None
    output: Decimal | None
    cache_read: Decimal | None
    cache_write: Decimal | None
    tier_start: int | None = None  # the tier applied: input tokens above this count (None: base rate)
    tiered: bool = False           # the model has size tiers at all


@dataclass(frozen=True)
class Price:
    cost_nanos: int | None
    price_version: str | None
    reason: str | None
    rates: Rates | None
    matched: str | None = None  # "<genai provider>/<genai model id>" or "override:<provider>/<model>"

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.cost_nanos is None else Decimal(self.cost_nanos) / NANOS_PER_USD


def usd_to_nanos(usd: Decimal) -> int:
    """Exact USD → nanos, rounded once, half to even."""
    return int((usd * NANOS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def nanos_to_usd(nanos: int | None) -> float | None:
    """Nanos → a USD JSON number (the rendering the API uses)."""
    return None if nanos is None else float(Decimal(nanos) / NANOS_PER_USD)


def _tokens_nanos(tokens: int, rate: Decimal) -> Decimal:
    return Decimal(tokens) * rate * NANOS_PER_TOKEN_AT_ONE_USD_PER_MTOK


def _rate_at(value: Decimal | TieredPrices | None, input_tokens: int) -> tuple[Decimal | None, int | None]:
    """genai-prices' cliff rule: the highest tier whose start the request's input tokens exceed."""
    if value is None:
        return None, None
    if isinstance(value, TieredPrices):
        for tier in reversed(value.tiers):
            if input_tokens > tier.start:
                return tier.price, tier.start
        return value.base, None
    return value, None


def rates_from_model_price(model_price: ModelPrice, input_tokens: int) -> Rates:
    values = {key: getattr(model_price, f"{key}_mtok", None) for key in ("input", "output", "cache_read",
                                                                        "cache_write")}
    resolved = {key: _rate_at(value, input_tokens) for key, value in values.items()}
    tier_starts = [start for _, start in resolved.values() if start is not None]
    return Rates(
        input=resolved["input"][0],
        output=resolved["output"][0],
        cache_read=resolved["cache_read"][0],
        cache_write=resolved["cache_write"][0],
        tier_start=max(tier_starts) if tier_starts else None,
        tiered=any(isinstance(value, TieredPrices) for value in values.values()),
    )


def parse_overrides(raw: str) -> dict[str, Rates]:
    """``{"provider/model": {"input", "output", "cacheRead"?, "cacheWrite"?}}`` in USD per million tokens."""
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"KILLTOKEN_PRICE_OVERRIDES: not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, dict):
        raise ValueError("KILLTOKEN_PRICE_OVERRIDES: expected a JSON object keyed by \"provider/model\"")
    parsed: dict[str, Rates] = {}
    for key, entry in data.items():
        provider, _, model = key.partition("/")
        if provider not in PROVIDER_MAP or not model:
            raise ValueError(f"KILLTOKEN_PRICE_OVERRIDES: key {key!r} is not \"<provider id>/<model>\"")
        if not isinstance(entry, dict):
            raise ValueError(f"KILLTOKEN_PRICE_OVERRIDES: {key!r} must be an object of USD per Mtok")
        unknown = set(entry) - set(OVERRIDE_FIELDS)
        if unknown:
            raise ValueError(f"KILLTOKEN_PRICE_OVERRIDES: {key!r} has unknown fields {sorted(unknown)}; "
                             f"allowed: {sorted(OVERRIDE_FIELDS)}")
        for required in ("input", "output"):
            if required not in entry:
                raise ValueError(f"KILLTOKEN_PRICE_OVERRIDES: {key!r} needs {required!r}")
        rates: dict[str, Decimal | None] = {}
        for field_name, attr in OVERRIDE_FIELDS.items():
            value = entry.get(field_name)
            rates[attr] = None if value is None else _override_rate(key, field_name, value)
        parsed[f"{provider}/{model.lower()}"] = Rates(**rates)
    return parsed


def _override_rate(key: str, field_name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"KILLTOKEN_PRICE_OVERRIDES: {key}.{field_name} must be a number")
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"KILLTOKEN_PRICE_OVERRIDES: {key}.{field_name} must be a number") from None
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"KILLTOKEN_PRICE_OVERRIDES: {key}.{field_name} must be a finite number >= 0")
    return rate


def cost_from_rates(rates: Rates, usage: Usage) -> int:
    """Each input token billed once: uncached at input, reads at cache_read, writes at cache_write."""
    assert rates.input is not None and rates.output is not None
    uncached = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_input_tokens
    read_rate = rates.cache_read if rates.cache_read is not None else rates.input
    write_rate = rates.cache_write if rates.cache_write is not None else rates.input
    total = (_tokens_nanos(uncached, rates.input)
             + _tokens_nanos(usage.cached_input_tokens, read_rate)
             + _tokens_nanos(usage.cache_write_input_tokens, write_rate)
             + _tokens_nanos(usage.output_tokens, rates.output))
    return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))


def pricing_model_ref(provider: str, model: str) -> tuple[str | None, str | None]:
    """The model id genai-prices should see, or (None, reason) when it cannot be priced."""
    ref = model.strip()
    if provider == "aws_bedrock" and ref.startswith("arn:"):
        return None, ("aws_bedrock model is an ARN (inference profile or provisioned throughput); "
                      "the model behind it and its price are not known")
    if provider in ("google_vertex", "gemini"):  # "models/x", "publishers/google/models/x", full resource
        match = _VERTEX_PATH.match(ref)
        if match:
            ref = match.group("model")
    if not ref:
        return None, "no model id to price"
    return ref, None


class Pricer:
    """Prices usage; built once per process from ``KILLTOKEN_PRICE_OVERRIDES`` (bad value: ValueError)."""

    def __init__(self, overrides_json: str = "") -> None:
        self.overrides = parse_overrides(overrides_json)
        self._lookups: dict[tuple[str, str, str], tuple[str, ModelPrice] | None] = {}
        if self.overrides:
            digest = hashlib.sha256(json.dumps(json.loads(overrides_json), sort_keys=True,
                                               separators=(",", ":")).encode()).hexdigest()[:8]
            self.version = f"{DATA_VERSION}+overrides:{digest}"
        else:
            self.version = DATA_VERSION

    def rates(self, provider: str, model: str, input_tokens: int = 0, at: datetime | None = None
              ) -> tuple[Rates | None, str | None, str | None, ModelPrice | None]:
        """(rates, matched, reason, genai model price) for a model at the tier ``input_tokens`` selects."""
        override = self.overrides.get(f"{provider}/{model.strip().lower()}")
        if override is not None:
            return override, f"override:{provider}/{model.strip()}", None, None
        if provider not in PROVIDER_MAP:
            return None, None, f"provider {provider!r} has no price data", None
        ref, reason = pricing_model_ref(provider, model)
        if ref is None:
            return None, None, reason, None
        found = self._lookup(provider, ref, _aware(at))
        if found is None:
            where = "any provider" if PROVIDER_MAP[provider] == (None,) else "/".join(
                p for p in PROVIDER_MAP[provider] if p)
            return None, None, f"model {ref!r} is not in {DATA_VERSION} for {where}", None
        matched, model_price = found
        rates = rates_from_model_price(model_price, input_tokens)
        if rates.input is None or rates.output is None:
            return None, None, f"{ref!r} has no per-token text price in {DATA_VERSION}", None
        return rates, matched, None, model_price

    def _lookup(self, provider: str, ref: str, when: datetime) -> tuple[str, ModelPrice] | None:
        """genai-prices' model match and its price in force at ``when``, memoized per (model, hour).

        The match is the slow part of pricing (a scan of the price table); on the request path it runs once an
        hour per model. Tier selection by prompt size happens after, on the cached model price.
        """
        key = (provider, ref, when.strftime("%Y%m%d%H"))
        if key in self._lookups:
            return self._lookups[key]
        found = None
        probe = genai_prices.Usage(input_tokens=0)
        for genai_provider in PROVIDER_MAP[provider]:
            try:
                calc = genai_prices.calc_price(probe, ref, provider_id=genai_provider, genai_request_timestamp=when)
            except LookupError:
                continue
            found = (f"{calc.provider.id}/{calc.model.id}", calc.model_price)
            break
        if len(self._lookups) > 4096:
            self._lookups.clear()
        self._lookups[key] = found
        return found

    def price(self, provider: str, model: str, usage: Usage, at: datetime | None = None) -> Price:
        """What the provider bills for this usage; ``cost_nanos`` None (with ``reason``) when unknown."""
        if usage.cached_input_tokens + usage.cache_write_input_tokens > usage.input_tokens:
            return Price(None, self.version, "usage reports more cached tokens than input tokens", None)
        rates, matched, reason, model_price = self.rates(provider, model, usage.input_tokens, at)
        if rates is None:
            return Price(None, self.version, reason, None)
        if model_price is None:
            return Price(cost_from_rates(rates, usage), self.version, None, rates, matched)
        genai_usage = genai_prices.Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_input_tokens,
            output_tokens=usage.output_tokens,
        )
        try:
            total = model_price.calc_price(genai_usage)["total_price"]
        except ValueError as exc:
            return Price(None, self.version, f"genai-prices refused the usage: {exc}", rates, matched)
        return Price(usd_to_nanos(total), self.version, None, rates, matched)

    def input_cost_nanos(self, provider: str, model: str, tokens: int,
                         input_tokens_context: int | None = None) -> int | None:
        """Value of ``tokens`` uncached input tokens (removed or removable by safe mode); None when unknown.

        ``input_tokens_context`` is the request's whole input size, which selects the tier.
        """
        context = tokens if input_tokens_context is None else input_tokens_context
        rates, _, _, _ = self.rates(provider, model, context)
        if rates is None or rates.input is None:
            return None
        return int(_tokens_nanos(tokens, rates.input).to_integral_value(rounding=ROUND_HALF_EVEN))

    def verified_savings_nanos(self, provider: str, model: str, usage: Usage) -> int:
        """Provider-reported cache discount: reads × (input − read rate) − writes × (write rate − input).

        Net and signed: a request that only writes the cache shows its premium as a negative number, and the
        later reads recoup it, so sums over a period are the true net. Unknown model → 0 (nothing verified).
        """
        rates, _, _, _ = self.rates(provider, model, usage.input_tokens)
        if rates is None or rates.input is None:
            return 0
        total = Decimal(0)
        if rates.cache_read is not None:
            total += _tokens_nanos(usage.cached_input_tokens, rates.input - rates.cache_read)
        if rates.cache_write is not None:
            total -= _tokens_nanos(usage.cache_write_input_tokens, rates.cache_write - rates.input)
        return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(tz=UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
