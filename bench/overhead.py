"""Gateway overhead: the same load sent directly to an instant upstream and through the gateway.

Full pipeline on the gateway side (auth, credential decrypt, trace write, in-process measurement queueing):
one gunicorn gevent worker on the embedded store. Prints added p50/p99 latency at concurrency 1 and 32 and the
throughput ratio gateway/direct. Run: ``make bench`` (or ``python bench/overhead.py [requests]``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402
import requests  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.security.api_keys import mint  # noqa: E402
from tests import live_server  # noqa: E402

BENCH_REDIS = "redis://127.0.0.1:6379/14"
BODY = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Say ok."}]}


def _session(concurrency: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=concurrency)
    session.mount("http://", adapter)
    return session


def _load(url: str, headers: dict[str, str], payload: dict, total: int, concurrency: int) -> tuple[list, float]:
    session = _session(concurrency)
    latencies: list[float] = []
    remaining = [total]

    def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            started = time.perf_counter()
            response = session.post(url, json=payload, headers=headers, timeout=30)
            latencies.append((time.perf_counter() - started) * 1000.0)
            assert response.status_code == 200, response.text[:300]

    for _ in range(20):  # warm the pools
        session.post(url, json=payload, headers=headers, timeout=30)
    started = time.perf_counter()
    gevent.joinall([gevent.spawn(worker) for _ in range(concurrency)])
    return latencies, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(total: int = 2000) -> dict:
    port = live_server.free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench" / "instant_upstream.py"), str(port)])
    key = mint()
    log = Path(tempfile.mkdtemp()) / "bench-gateway.log"
    # Measurement is queued to Celery on a bench-only Redis DB (no worker runs here; the queue is dropped after),
    # as in production, where workers measure out of the web process.
    gateway = live_server.start({"KILLTOKEN_UPSTREAM_URL_OPENAI": f"http://127.0.0.1:{port}",
                                 "KILLTOKEN_BOOTSTRAP_TENANTS": f"bench:{key}", "KILLTOKEN_LOG_LEVEL": "WARNING",
                                 "REDIS_URL": BENCH_REDIS, "KILLTOKEN_TASKS_MODE": "celery"}, log)
    try:
        auth = {"authorization": f"Bearer {key}"}
        created = _session(1).post(gateway.base_url + "/v1/provider-credentials", headers=auth,
                                   json={"provider": "openai", "apiKey": "sk-bench-0000"})
        assert created.status_code == 201, created.text
        results = {}
        for concurrency in (1, 32):
            count = total if concurrency > 1 else total // 4
            direct, direct_s = _load(f"http://127.0.0.1:{port}/v1/chat/completions",
                                     {"authorization": "Bearer sk-bench-0000"}, BODY, count, concurrency)
            through, through_s = _load(gateway.base_url + "/v1/chat", auth, {"provider": "openai", **BODY},
                                       count, concurrency)
            results[concurrency] = {
                "requests": count,
                "direct_p50_ms": round(_pct(direct, 0.5), 3), "gateway_p50_ms": round(_pct(through, 0.5), 3),
                "added_p50_ms": round(_pct(through, 0.5) - _pct(direct, 0.5), 3),
                "added_p99_ms": round(_pct(through, 0.99) - _pct(direct, 0.99), 3),
                "direct_rps": round(count / direct_s, 1), "gateway_rps": round(count / through_s, 1),
                "throughput_ratio": round((count / through_s) / (count / direct_s), 3),
                "gateway_mean_ms": round(statistics.mean(through), 3),
            }
        return results
    finally:
        gateway.stop()
        upstream.terminate()
        import redis

        redis.Redis.from_url(BENCH_REDIS).flushdb()


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000), indent=2))
