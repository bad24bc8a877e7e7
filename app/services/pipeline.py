"""The gateway request pipeline, shared by /v1/chat and both wrappers.

auth → validate → credential → optimize + build (pure) → idempotency → cache → provider → metrics → trace.

Building the upstream request before the idempotency claim means every refusal we can decide ourselves
(unsupported option, private endpoint) happens before any Redis or provider work. Every request, refusals
included, leaves exactly one trace, written before the response; measurement is queued after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo.errors import PyMongoError

from app.errors import ApiError
from app.security.ids import new_id
from app.services import credentials as credential_service
from app.services.cache_key import body_fingerprint, cache_key
from app.services.exact_cache import CacheUnavailable
from app.services.provider_call import CallTiming, check_tenant_endpoints, execute, origin_for, pick_session
from app.services.tenant_auth import TenantContext
from app.store import traces
from providers.base import ChatRequest, Credential, ParsedResponse, ProviderAdapter, Usage
from providers.registry import get_adapter

log = logging.getLogger("killtoken.pipeline")

MEASURE_TASK = "killtoken.measure_request"
_CALIBRATION_TTL_SECONDS = 60.0
# What a refused claim leaves on the trace.
_REFUSED_CLAIMS = {"idempotency_unavailable": "unavailable", "idempotency_in_progress": "in_progress",
                   "idempotency_key_reused": "conflict"}
# Outcomes of these codes are deterministic for the same body: an idempotent retry replays them.
_STORABLE_ERRORS = {"provider_request_rejected"}


@dataclass
class Incoming:
    """A parsed request from any entry point, in canonical form."""

    entry_point: str            # "chat" | "openai" | "anthropic"
    entry_format: str           # providers.base.FORMAT_*
    provider: str
    model: str
    messages: list[dict[str, Any]]
    options: dict[str, Any]
    key_body: dict[str, Any]    # the body as received: cache key and idempotency fingerprint
    optimization_mode: str = "measure_only"
    metadata: dict[str, Any] | None = None
    feature: str | None = None
    cache_policy: str = "bypass"
    idempotency_key: str | None = None
    native_body: dict[str, Any] | None = None


@dataclass
class Outcome:
    request_id: str
    http_status: int
    provider_body: Any
    provider_format: str
    parsed: ParsedResponse | None
    metrics: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    provider_raw: bytes | None = None  # the provider's exact bytes on a live call (None when replayed)


class Deps(Protocol):
    """Everything the pipeline touches, handed down from the app (no globals, no config re-reads).

    ``exact_cache`` and ``idempotency`` are None when the cache backend is off; ``tokens()`` returns the
    Google token source (built on first use).
    """

    db: Any
    settings: dict[str, Any]
    keyring: Any
    credentials: Any                       # ActiveCredentials: the short-lived record cache
    pricer: Any
    session: Any
    public_session: Any                    # for tenant-supplied endpoints (refuses private peers)
    dispatcher: Any
    exact_cache: Any
    idempotency: Any

    def tokens(self) -> Any: ...


def _now_ms() -> datetime:
    """UTC now at MongoDB's resolution (milliseconds), so the embedded store orders and pages like MongoDB."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _nanos_to_usd(nanos: int | None) -> float | None:
    return None if nanos is None else nanos / 1e9


def parsed_to_dict(parsed: ParsedResponse) -> dict[str, Any]:
    return asdict(parsed)


def parsed_from_dict(data: dict[str, Any]) -> ParsedResponse:
    return ParsedResponse(**{**data, "usage": Usage(**data["usage"])})


class _Run:
    """The state of one request as it moves through the pipeline."""

    def __init__(self, deps: Deps, entry_point: str, partial: Callable[[], dict[str, Any]]) -> None:
        self.deps = deps
        self.partial = partial
        self.started = time.perf_counter()
        self.request_id = new_id("req")
        self.trace: dict[str, Any] = {
            "_id": self.request_id,
            "tenantId": None,
            "createdAt": _now_ms(),
            "entryPoint": entry_point,
            "provider": None,
            "model": None,
            "credentialId": None,
            "optimizationMode": None,
            "feature": None,
            "metadata": None,
            "cacheStatus": "bypass",
            "idempotencyStatus": "none",
            "status": "error",
            "httpStatus": None,
            "errorCode": None,
            "providerStatus": None,
            "latencyMs": None,
            "providerLatencyMs": 0.0,
            "overheadMs": None,
            "usage": None,
            "usageCached": False,
            "costUsd": None,
            "costNanos": None,
            "costReason": None,
            "priceVersion": None,
            "avoidedCostNanos": 0,
            "savings": {"cacheNanos": 0, "verifiedNanos": 0, "estimatedNanos": 0, "potentialNanos": 0},
            "optimization": None,
            "waste": None,
            "templateId": None,
            "cacheKeyHash": None,
            "measurement": "skipped",
        }
        self.incoming: Incoming | None = None

    # -- metrics -------------------------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        t = self.trace
        savings = t["savings"]
        metrics: dict[str, Any] = {
            "requestId": self.request_id,
            "provider": t["provider"],
            "model": t["model"],
            "optimizationMode": t["optimizationMode"],
            "feature": t["feature"],
            "cacheStatus": t["cacheStatus"],
            "idempotencyStatus": t["idempotencyStatus"],
            "usage": t["usage"],
            "usageCached": t["usageCached"],
            "costUsd": t["costUsd"],
            "priceVersion": t["priceVersion"],
            "savings": {
                "cacheUsd": _nanos_to_usd(savings["cacheNanos"]),
                "verifiedUsd": _nanos_to_usd(savings["verifiedNanos"]),
                "estimatedUsd": _nanos_to_usd(savings["estimatedNanos"]),
            },
            "latencyMs": t["latencyMs"],
            "providerLatencyMs": t["providerLatencyMs"],
            "overheadMs": t["overheadMs"],
        }
        if t["costReason"]:
            metrics["costReason"] = t["costReason"]
        if t["avoidedCostNanos"]:
            metrics["avoidedCostUsd"] = _nanos_to_usd(t["avoidedCostNanos"])
        if t["optimization"] is not None:
            metrics["optimization"] = t["optimization"]
        return metrics

    def finish(self, http_status: int, error: ApiError | None) -> dict[str, Any]:
        """Stamp latencies and status, write the one trace, queue measurement; return the metrics."""
        t = self.trace
        latency = (time.perf_counter() - self.started) * 1000.0
        t["latencyMs"] = round(latency, 3)
        t["providerLatencyMs"] = round(t["providerLatencyMs"], 3)
        t["overheadMs"] = round(max(latency - t["providerLatencyMs"], 0.0), 3)
        t["httpStatus"] = http_status
        t["status"] = "ok" if error is None else "error"
        t["errorCode"] = error.code if error is not None else None
        if error is not None and error.provider_status is not None:
            t["providerStatus"] = error.provider_status
        if self.incoming is None and t["tenantId"] is not None:  # refused in parsing: keep the body's context
            partial = self.partial()
            for name in ("provider", "model"):
                value = partial.get(name)
                t[name] = value[:200] if isinstance(value, str) else None
        payload = self._measurement_payload()
        if payload is not None:
            t["measurement"] = "pending"
        try:
            traces.insert(self.deps.db, t)
        except PyMongoError as exc:  # the answer still goes out; the log says which trace is missing
            log.error("trace %s not written: %s", self.request_id, type(exc).__name__)
            return self.metrics()
        if payload is not None:
            self.deps.dispatcher.send(MEASURE_TASK, payload)
        return self.metrics()

    def _measurement_payload(self) -> dict[str, Any] | None:
        incoming = self.incoming
        if incoming is None or self.trace["tenantId"] is None:
            return None
        return {
            "requestId": self.request_id,
            "tenantId": self.trace["tenantId"],
            "provider": incoming.provider,
            "model": incoming.model,
            "optimizationMode": incoming.optimization_mode,
            "messages": incoming.messages,
            "nativeBody": incoming.native_body,
            "hasTools": bool(incoming.options.get("tools") or (incoming.native_body or {}).get("tools")),
        }


class Gateway:
    """Runs one request end to end. Views give it a parser; it gives back an Outcome or raises ApiError."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._ratios: dict[tuple[str, str], tuple[float, float | None]] = {}

    def handle(self, entry_point: str, authenticate: Callable[[], TenantContext],
               parse: Callable[[], Incoming], partial: Callable[[], dict[str, Any]]) -> Outcome:
        run = _Run(self.deps, entry_point, partial)
        try:
            outcome = self._run(run, authenticate, parse)
        except ApiError as error:
            raise self._traced(run, error) from None
        except PyMongoError as exc:
            log.error("database unavailable in request %s: %s", run.request_id, type(exc).__name__)
            error = ApiError("not_ready", "the gateway's database is unreachable; retry shortly")
            error.request_id = run.request_id  # no trace write: it would wait on the same dead database
            error.metrics = run.metrics()
            raise error from None
        except Exception:
            log.exception("unexpected failure in request %s", run.request_id)
            raise self._traced(run, ApiError("internal_error", "an unexpected error occurred; see the trace "
                                             + run.request_id)) from None
        outcome.metrics = run.finish(outcome.http_status, None)
        return outcome

    @staticmethod
    def _traced(run: _Run, error: ApiError) -> ApiError:
        """Every refusal and failure leaves its trace and carries its request id and metrics."""
        error.request_id = run.request_id
        error.metrics = run.finish(error.status, error)
        return error

    # -- the steps -----------------------------------------------------------------------------------------
    def _run(self, run: _Run, authenticate: Callable[[], TenantContext], parse: Callable[[], Incoming]
             ) -> Outcome:
        deps = self.deps
        tenant = authenticate()
        run.trace["tenantId"] = tenant.tenant_id
        incoming = parse()
        run.incoming = incoming
        t = run.trace
        t.update(provider=incoming.provider, model=incoming.model, optimizationMode=incoming.optimization_mode,
                 feature=incoming.feature, metadata=incoming.metadata)
        adapter = get_adapter(incoming.provider)
        credential = credential_service.load_active(deps.db, deps.keyring, tenant.tenant_id, adapter.id,
                                                    deps.credentials)
        t["credentialId"] = credential.id

        request, optimization = self._optimize(incoming)
        upstream = adapter.build_request(request, credential, origin_for(adapter, deps.settings))
        check_tenant_endpoints(adapter, credential.config, deps.settings, resolve=False)

        key_body = incoming.key_body
        fingerprint = body_fingerprint(key_body) if incoming.idempotency_key else None
        ckey = cache_key(
            tenant_id=tenant.tenant_id, credential_id=credential.id, credential_version=credential.version,
            provider=adapter.id, model=incoming.model, endpoint=upstream.url, entry_format=incoming.entry_format,
            body=key_body,
        )
        t["cacheKeyHash"] = ckey.rsplit(":", 1)[-1]

        claim = self._claim(run, incoming, tenant, fingerprint)
        if claim is not None and claim.replay is not None:
            return self._replay(run, claim.replay)
        try:
            outcome = self._cached_or_call(run, incoming, adapter, credential, request, upstream, ckey,
                                           optimization)
        except ApiError as error:
            self._settle_error(run, claim, error)
            raise
        except Exception:
            self._release(claim)
            raise
        self._settle(claim, run, outcome)
        return outcome

    def _optimize(self, incoming: Incoming) -> tuple[ChatRequest, dict[str, Any] | None]:
        messages, native_body, optimization = incoming.messages, incoming.native_body, None
        if incoming.optimization_mode == "safe":
            from app.optimize.safe_mode import apply_safe_mode

            result = apply_safe_mode(incoming.provider, incoming.model, incoming.messages, incoming.native_body,
                                     ratio=self._calibration(incoming.provider, incoming.model))
            messages, native_body = result.messages, result.native_body
            optimization = {
                "applied": result.applied,
                "tokensBefore": result.tokens_before,
                "tokensAfter": result.tokens_after,
                "tokensRemoved": result.tokens_before - result.tokens_after,
                "estimated": result.estimated,
            }
        request = ChatRequest(
            provider=incoming.provider, model=incoming.model, messages=messages, options=incoming.options,
            entry_format=incoming.entry_format, native_body=native_body,
        )
        return request, optimization

    def _calibration(self, provider: str, model: str) -> float | None:
        """The learned token-count ratio for a model without a public tokenizer (re-read once a minute), so
        safe mode counts removed tokens exactly as the measurement task will."""
        key = (provider, model)
        now = time.monotonic()
        hit = self._ratios.get(key)
        if hit is not None and now - hit[0] < _CALIBRATION_TTL_SECONDS:
            return hit[1]
        from app.store.calibration import ratio

        value = ratio(self.deps.db, provider, model)
        if len(self._ratios) > 10000:
            self._ratios.clear()
        self._ratios[key] = (now, value)
        return value

    # -- idempotency ---------------------------------------------------------------------------------------
    def _claim(self, run: _Run, incoming: Incoming, tenant: TenantContext, fingerprint: str | None) -> Any:
        if incoming.idempotency_key is None:
            return None
        store = self.deps.idempotency
        if store is None:
            run.trace["idempotencyStatus"] = "disabled"
            return None
        try:
            claim = store.begin(tenant.tenant_id, incoming.entry_point, incoming.idempotency_key, fingerprint)
        except ApiError as error:
            run.trace["idempotencyStatus"] = _REFUSED_CLAIMS.get(error.code, run.trace["idempotencyStatus"])
            raise
        run.trace["idempotencyStatus"] = "replayed" if claim.replay is not None else "new"
        return claim

    def _replay(self, run: _Run, stored: dict[str, Any]) -> Outcome:
        error = stored.get("error")
        if error is not None:
            raise ApiError(error["code"], error["message"], status=error["status"], headers=error.get("headers"))
        return self._from_stored(run, stored["entry"])

    def _settle(self, claim: Any, run: _Run, outcome: Outcome) -> None:
        if claim is None:
            return
        entry = self._entry(run, outcome)
        if not self.deps.idempotency.complete(claim, {"httpStatus": outcome.http_status, "entry": entry,
                                                      "error": None}):
            run.trace["idempotencyStatus"] = "not_stored"  # answered, but a retry would run again

    def _settle_error(self, run: _Run, claim: Any, error: ApiError) -> None:
        if claim is None:
            return
        if error.code in _STORABLE_ERRORS:
            stored = self.deps.idempotency.complete(claim, {"httpStatus": error.status, "entry": None, "error": {
                "code": error.code, "message": error.message, "status": error.status,
                "headers": error.headers, "providerStatus": error.provider_status}})
            if not stored:
                run.trace["idempotencyStatus"] = "not_stored"
        else:
            self.deps.idempotency.release(claim)

    def _release(self, claim: Any) -> None:
        if claim is not None:
            self.deps.idempotency.release(claim)

    # -- cache and provider --------------------------------------------------------------------------------
    def _cached_or_call(self, run: _Run, incoming: Incoming, adapter: ProviderAdapter, credential: Credential,
                        request: ChatRequest, upstream: Any, ckey: str, optimization: dict | None) -> Outcome:
        cache = self.deps.exact_cache
        policy = incoming.cache_policy
        t = run.trace
        if cache is None:
            t["cacheStatus"] = "bypass" if policy == "bypass" else "disabled"
        elif policy in ("read_only", "read_write"):
            try:
                entry = cache.get(ckey)
            except CacheUnavailable:
                entry, policy = None, "unavailable"
                t["cacheStatus"] = "unavailable"
            if entry is not None:
                t["cacheStatus"] = "hit"
                return self._from_stored(run, entry)
            if policy != "unavailable":
                t["cacheStatus"] = "miss"
        elif policy == "write_only":
            t["cacheStatus"] = "write"

        t["optimization"] = optimization
        outcome = self._call(run, adapter, credential, upstream, optimization)
        if cache is not None and policy in ("write_only", "read_write"):
            try:
                cache.put(ckey, self._entry(run, outcome))
            except CacheUnavailable:
                t["cacheStatus"] = "unavailable"
        return outcome

    def _call(self, run: _Run, adapter: ProviderAdapter, credential: Credential, upstream: Any,
              optimization: dict | None) -> Outcome:
        deps = self.deps
        tokens = deps.tokens() if not adapter.uses_api_key else None
        timing = CallTiming()
        session = pick_session(adapter, credential.config, deps.settings, deps.session, deps.public_session)
        try:
            result = execute(adapter, credential, upstream, session, tokens, deps.settings, timing)
        finally:
            run.trace["providerLatencyMs"] = timing.provider_ms
            run.trace["providerStatus"] = timing.provider_status
        self._account(run, adapter, result.parsed, optimization)
        return Outcome(request_id=run.request_id, http_status=200, provider_body=result.body,
                       provider_format=result.response_format, parsed=result.parsed, metrics={},
                       provider_raw=result.raw)

    def _account(self, run: _Run, adapter: ProviderAdapter, parsed: ParsedResponse,
                 optimization: dict | None) -> None:
        t = run.trace
        pricer = self.deps.pricer
        priced_model = t["model"]
        price = pricer.price(adapter.id, priced_model, parsed.usage)
        if price.cost_nanos is None and parsed.model and parsed.model != priced_model:
            fallback = pricer.price(adapter.id, parsed.model, parsed.usage)  # e.g. an alias the answer resolves
            if fallback.cost_nanos is not None:
                price, priced_model = fallback, parsed.model
        t["usage"] = parsed.usage.to_metrics()
        t["costNanos"] = price.cost_nanos
        t["costUsd"] = _nanos_to_usd(price.cost_nanos)
        t["costReason"] = price.reason
        t["priceVersion"] = price.price_version
        if price.cost_nanos is not None:
            t["savings"]["verifiedNanos"] = pricer.verified_savings_nanos(adapter.id, priced_model, parsed.usage)
            removed = (optimization or {}).get("tokensRemoved") or 0
            if removed > 0:
                t["savings"]["estimatedNanos"] = pricer.input_cost_nanos(
                    adapter.id, priced_model, removed, input_tokens_context=parsed.usage.input_tokens) or 0

    # -- stored answers (cache entries and idempotent results) ---------------------------------------------
    def _entry(self, run: _Run, outcome: Outcome) -> dict[str, Any]:
        t = run.trace
        return {
            "requestId": outcome.request_id,
            "providerBody": outcome.provider_body,
            "providerFormat": outcome.provider_format,
            "parsed": parsed_to_dict(outcome.parsed) if outcome.parsed is not None else None,
            "usage": t["usage"],
            "costNanos": t["costNanos"] if t["avoidedCostNanos"] == 0 else t["avoidedCostNanos"],
            "priceVersion": t["priceVersion"],
        }

    def _from_stored(self, run: _Run, entry: dict[str, Any]) -> Outcome:
        t = run.trace
        t["usage"] = entry["usage"]
        t["usageCached"] = True
        t["costNanos"] = 0
        t["costUsd"] = 0.0
        t["priceVersion"] = entry.get("priceVersion")
        avoided_nanos = entry.get("costNanos") or 0
        t["avoidedCostNanos"] = avoided_nanos
        t["savings"]["cacheNanos"] = avoided_nanos
        parsed = parsed_from_dict(entry["parsed"]) if entry.get("parsed") else None
        return Outcome(request_id=run.request_id, http_status=200, provider_body=entry["providerBody"],
                       provider_format=entry["providerFormat"], parsed=parsed, metrics={},
                       headers={"x-killtoken-replayed-from": entry["requestId"]})
