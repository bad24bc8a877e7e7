"""Hands background work to Celery, or runs it in-process (embedded default), never on the request path.

``send`` only appends to a per-process buffer; one background greenlet (or thread) drains it. In ``celery``
mode the drain publishes one ``killtoken.run_batch`` message per flush instead of one message per request, so
the broker round trip and serialization are paid once per batch, after the responses have gone out. A broker
failure never fails a request: the batch is kept (bounded) and retried with backoff, and traces stay
``measurement: pending`` for the sweeper if it is finally dropped. In ``inprocess`` mode the drain runs the
same task functions in the web process, one at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("killtoken.dispatch")

BATCH_TASK = "killtoken.run_batch"
MAX_BATCH = 200
FLUSH_INTERVAL_SECONDS = 0.02
MAX_BUFFERED = 20000
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)


class Dispatcher:
    def __init__(self, mode: str, celery_app: Any, run_inprocess: Callable[[str, dict[str, Any]], None]) -> None:
        self._mode = mode
        self._celery = celery_app
        self._run_inprocess = run_inprocess
        self._buffer: deque[tuple[str, dict[str, Any]]] = deque()
        self._wake = threading.Event()
        self._drainer: Any = None
        self._lock = threading.Lock()
        self._failures = 0

    def send(self, task_name: str, payload: dict[str, Any]) -> bool:
        """Queue ``task_name(payload)`` for the background drain; False when the buffer is full (dropped)."""
        if len(self._buffer) >= MAX_BUFFERED:
            log.warning("dispatch buffer full; %s for %s left to the sweeper", task_name, payload.get("requestId"))
            return False
        self._buffer.append((task_name, payload))
        self._ensure_drainer()
        self._wake.set()
        return True

    def flush(self) -> None:
        """Drain everything now (worker shutdown, tests)."""
        while self._buffer:
            if not self._drain_once():
                break

    # -- the drain ----------------------------------------------------------------------------------------
    def _ensure_drainer(self) -> None:
        if self._drainer is not None:
            return
        with self._lock:
            if self._drainer is None:
                self._drainer = _spawn(self._drain_forever)

    def _drain_forever(self) -> None:
        while True:
            try:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                if self._mode != "inprocess":
                    time.sleep(FLUSH_INTERVAL_SECONDS)  # let concurrent requests join the batch
                while self._buffer:
                    if not self._drain_once():
                        time.sleep(BACKOFF_SECONDS[min(self._failures - 1, len(BACKOFF_SECONDS) - 1)])
            except Exception:  # the drain must outlive any one bad item: it is the only one per process
                log.exception("background dispatch failed; continuing")
                time.sleep(BACKOFF_SECONDS[0])

    def _drain_once(self) -> bool:
        if self._mode == "inprocess":
            name, payload = self._buffer.popleft()
            self._run_inprocess(name, payload)
            return True
        batch = [self._buffer.popleft() for _ in range(min(MAX_BATCH, len(self._buffer)))]
        try:
            self._celery.send_task(BATCH_TASK, args=[[list(item) for item in batch]], retry=False)
        except Exception as exc:  # broker down: keep the batch (bounded) and back off; requests are unaffected
            self._failures += 1
            self._buffer.extendleft(reversed(batch))
            while len(self._buffer) > MAX_BUFFERED:
                self._buffer.pop()
            log.warning("could not queue %d task(s): %s (attempt %d)", len(batch), type(exc).__name__,
                        self._failures)
            return False
        self._failures = 0
        return True


def _spawn(func: Callable[[], None]) -> Any:
    """A greenlet when gevent has patched this process (gunicorn worker), else a daemon thread."""
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        import gevent

        return gevent.spawn(func)
    thread = threading.Thread(target=func, daemon=True, name="killtoken-dispatch")
    thread.start()
    return thread
