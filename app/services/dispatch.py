"""Hands background work to Celery, or runs it in-process (embedded default), never on the request path.

In ``celery`` mode a broker failure never fails the request: the trace stays ``measurement: pending`` and the
sweeper task picks it up later. In ``inprocess`` mode the same task function runs in a greenlet (or thread)
after the response, so the embedded default measures exactly what a worker would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("killtoken.dispatch")


class Dispatcher:
    def __init__(self, mode: str, celery_app: Any, run_inprocess: Callable[[str, dict[str, Any]], None]) -> None:
        self._mode = mode
        self._celery = celery_app
        self._run_inprocess = run_inprocess

    def send(self, task_name: str, payload: dict[str, Any]) -> bool:
        """Queue ``task_name(payload)``; False when it could not be queued (the sweeper will retry)."""
        if self._mode == "inprocess":
            _spawn(self._run_inprocess, task_name, payload)
            return True
        try:
            self._celery.send_task(task_name, args=[payload], retry=False)
            return True
        except Exception as exc:  # broker down: the request is still served; the sweeper catches up
            log.warning("could not queue %s: %s", task_name, type(exc).__name__)
            return False


def _spawn(func: Callable[..., None], *args: Any) -> None:
    try:
        import gevent
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            gevent.spawn(func, *args)
            return
    except ImportError:  # pragma: no cover - gevent is a hard dependency
        pass
    import threading

    threading.Thread(target=func, args=args, daemon=True).start()
