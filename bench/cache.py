"""Exact-cache benchmark: what a lookup adds to a miss, and what a hit costs against a miss.

    python bench/cache.py                 # lookup cost on a miss, against the local Redis
    python bench/cache.py --http          # also hit vs miss through a live gateway over HTTP

Part 1 times the work a cache miss adds to a request: building the key (canonical JSON + SHA-256 of the
body) and one Redis GET that finds nothing. Target: under 1 ms at p50 for a typical chat body.
Part 2 starts the real gateway (gunicorn, one gevent worker, embedded store, Redis DB 15 for the cache and as
the Celery broker, as ``KILLTOKEN_TASKS_MODE=auto`` does with Redis; no worker consumes) and two canned
upstreams (instant, and one that answers after ``--upstream-ms``), then times ``bypass`` requests, ``read_only``
misses (lookup only), ``read_write`` misses (lookup + write) and ``read_write`` hits over HTTP, and prints the
hit/miss latency ratio and what the lookup adds to a miss. The keys it created in DB 15 are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def body_of(size: str) -> dict[str, Any]:
    """A chat body of a typical shape: small (one turn), medium (a 20 KB context), large (200 KB)."""
    filler = {"small": 0, "medium": 20_000, "large": 200_000}[size]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful assistant. Answer briefly."},
        {"role": "user", "content": "Summarise the following notes." + " lorem ipsum dolor" * (filler // 18)},
    ]
    return {
        "provider": "openai", "model": "gpt-4.1-mini", "messages": messages, "optimizationMode": "measure_only",
        "providerOptions": {"temperature": 0.2, "max_tokens": 256, "top_p": 1.0},
        "metadata": {"feature": "bench"}, "cachePolicy": {"exactCache": "read_write"},
    }


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(pct / 100.0 * (len(ordered) - 1))))]


def timed(func: Callable[[], Any], rounds: int) -> list[float]:
    for _ in range(min(50, rounds)):
        func()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def interleaved(cases: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Time the cases round-robin, so load from anything else on the machine hits them all alike."""
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(10):
        for func in cases.values():
            func()
    for _ in range(rounds):
        for label, func in cases.items():
            start = time.perf_counter()
            func()
            samples[label].append((time.perf_counter() - start) * 1000.0)
    return samples


def line(label: str, samples: list[float]) -> str:
    return (f"  {label:<34} p50 {statistics.median(samples):7.3f} ms   p99 {percentile(samples, 99):7.3f} ms"
            f"   mean {statistics.fmean(samples):7.3f} ms")


def bench_lookup(rounds: int) -> dict[str, float]:
    """Part 1: key building + a miss GET on the local Redis, per body size."""
    from app.services.cache_key import cache_key
    from app.services.exact_cache import ExactCache
    from tests.redis_helpers import gateway_client

    client = gateway_client(REDIS_URL)
    client.ping()
    cache = ExactCache(client, ttl_seconds=60)
    tenant = f"bench-{uuid.uuid4().hex}"
    context = dict(tenant_id=tenant, credential_id="cred_bench", credential_version=1, provider="openai",
                   model="gpt-4.1-mini", endpoint="https://api.openai.com/v1/chat/completions",
                   entry_format="killtoken")
    results: dict[str, float] = {}
    print(f"Part 1 — cache lookup cost on a miss ({rounds} rounds, Redis {REDIS_URL.rsplit('@', 1)[-1]})")
    for size in ("small", "medium", "large"):
        body = body_of(size)
        key = cache_key(**context, body=body)
        keys = timed(lambda b=body: cache_key(**context, body=b), rounds)
        gets = timed(lambda k=key: cache.get(k), rounds)
        both = timed(lambda b=body: cache.get(cache_key(**context, body=b)), rounds)
        print(f" body {size} ({len(str(body)) // 1024} KiB)")
        print(line("key (canonical JSON + sha256)", keys))
        print(line("GET miss", gets))
        print(line("key + GET miss (added to a miss)", both))
        results[size] = statistics.median(both)
    verdict = "OK" if results["small"] < 1.0 and results["medium"] < 1.0 else "OVER 1 ms"
    print(f" target: key + GET miss < 1 ms at p50 for small and medium bodies: {verdict}")
    client.close()
    return results


BENCH_TTL_SECONDS = 600
HTTP_REDIS_URL = os.environ.get("BENCH_HTTP_REDIS_URL", "redis://127.0.0.1:6379/15")


def serve_upstream(port: int, delay_ms: float) -> None:
    """A canned OpenAI-style upstream (bench/instant_upstream.py) that waits ``delay_ms`` before answering."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    from gevent.pywsgi import WSGIServer

    sys.path.insert(0, str(ROOT / "bench"))
    import instant_upstream

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if delay_ms:
            gevent.sleep(delay_ms / 1000.0)
        return instant_upstream.app(environ, start_response)

    WSGIServer(("127.0.0.1", port), app, log=None, handler_class=instant_upstream.NoDelayHandler).serve_forever()


def bench_http(rounds: int, upstream_ms: float, tasks_mode: str = "celery") -> dict[str, float]:
    """Part 2: bypass / read_only miss / read_write miss / hit through a live gunicorn gateway (gevent worker).

    Two upstreams: ``openai`` answers instantly (pure gateway cost), ``mistral`` after ``upstream_ms``.
    """
    import subprocess
    import tempfile

    import redis
    import requests

    from app.security.api_keys import mint
    from tests import live_server

    admin = redis.Redis.from_url(HTTP_REDIS_URL, socket_timeout=5)
    before = set(admin.scan_iter(count=1000))
    ports = {"openai": live_server.free_port(), "mistral": live_server.free_port()}
    delays = {"openai": 0.0, "mistral": upstream_ms}
    upstreams = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-upstream",
                                   str(ports[name]), str(delays[name])]) for name in ports]
    key = mint()
    log_path = Path(tempfile.mkdtemp()) / "bench-cache-gateway.log"
    env = {f"KILLTOKEN_UPSTREAM_URL_{name.upper()}": f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env.update({"KILLTOKEN_BOOTSTRAP_TENANTS": f"bench:{key}", "KILLTOKEN_LOG_LEVEL": "WARNING",
                "REDIS_URL": HTTP_REDIS_URL, "KILLTOKEN_CACHE_ENABLED": "true", "KILLTOKEN_TASKS_MODE": tasks_mode,
                "KILLTOKEN_CACHE_TTL_SECONDS": str(BENCH_TTL_SECONDS),
                "KILLTOKEN_IDEMPOTENCY_TTL_SECONDS": str(BENCH_TTL_SECONDS)})
    gateway = live_server.start(env, log_path)
    session = requests.Session()
    session.trust_env = False
    auth = {"authorization": f"Bearer {key}"}
    results: dict[str, float] = {}
    try:
        for provider in ports:
            created = session.post(gateway.base_url + "/v1/provider-credentials", headers=auth,
                                   json={"provider": provider, "apiKey": f"sk-bench-{provider}-0000"})
            assert created.status_code == 201, created.text
        url = gateway.base_url + "/v1/chat"
        run = uuid.uuid4().hex
        print(f"\nPart 2 — through HTTP (gunicorn, 1 gevent worker, embedded store, tasks {tasks_mode}), "
              f"{rounds} requests each, concurrency 1, cases interleaved")
        for provider, model in (("openai", "gpt-4.1-mini"), ("mistral", "mistral-small-latest")):
            counter = [0]

            def send(policy: str | None, unique: bool, provider: str = provider, model: str = model,
                     counter: list[int] = counter) -> str:
                counter[0] += 1
                text = f"{run} {counter[0]}" if unique else f"{run} the same question"
                body: dict[str, Any] = {"provider": provider, "model": model,
                                        "messages": [{"role": "user", "content": text}],
                                        "providerOptions": {"temperature": 0}}
                if policy:
                    body["cachePolicy"] = {"exactCache": policy}
                response = session.post(url, json=body, headers=auth, timeout=30)
                assert response.status_code == 200, response.text[:300]
                return response.json()["metrics"]["cacheStatus"]

            assert send("read_write", False) == "miss"
            assert send("read_write", False) == "hit"
            cases = {
                "bypass (no cache)": lambda: send(None, True),
                "read_only miss (lookup)": lambda: send("read_only", True),
                "read_write miss (lookup+write)": lambda: send("read_write", True),
                "read_write hit": lambda: send("read_write", False),
            }
            print(f" upstream {provider}: answers after {delays[provider]:g} ms")
            medians = {}
            for label, samples in interleaved(cases, rounds).items():
                medians[label] = statistics.median(samples)
                print(line(label, samples))
            hit, miss = medians["read_write hit"], medians["read_write miss (lookup+write)"]
            lookup = medians["read_only miss (lookup)"] - medians["bypass (no cache)"]
            print(f"  hit/miss latency ratio (p50): {hit / miss:.3f}   "
                  f"(a hit takes {hit:.2f} ms, a miss {miss:.2f} ms)")
            print(f"  lookup added to a miss (read_only miss − bypass, p50): {lookup:+.3f} ms; "
                  f"lookup + write: {miss - medians['bypass (no cache)']:+.3f} ms")
            results[f"{provider}_ratio"] = hit / miss
            results[f"{provider}_lookup_ms"] = lookup
    finally:
        gateway.stop()
        for process in upstreams:
            process.kill()
            process.wait()
        mine = [name for name in set(admin.scan_iter(count=1000)) - before
                if (name.startswith(b"kt:") and 0 < admin.ttl(name) <= BENCH_TTL_SECONDS)
                or name.startswith((b"celery", b"_kombu.", b"unacked"))]
        if mine:
            admin.delete(*mine)
        admin.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--http", action="store_true", help="also time hit vs miss through the app")
    parser.add_argument("--http-rounds", type=int, default=300)
    parser.add_argument("--upstream-ms", type=float, default=50.0,
                        help="the slow fake upstream's delay (a real provider takes 300 ms to many seconds)")
    parser.add_argument("--tasks-mode", choices=("celery", "inprocess"), default="celery",
                        help="celery (queued to Redis, as in production with REDIS_URL) or inprocess (embedded)")
    parser.add_argument("--serve-upstream", nargs=2, metavar=("PORT", "DELAY_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(int(args.serve_upstream[0]), float(args.serve_upstream[1]))
        return 0
    bench_lookup(args.rounds)
    if args.http:
        bench_http(args.http_rounds, args.upstream_ms, args.tasks_mode)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
