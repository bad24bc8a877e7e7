"""Worker entry for ``test_worker_killed``: the project's Celery app with a short visibility timeout, plus a slow task.

``celery -A tests.tasks.killable_tasks worker`` builds the app through ``create_app`` (so ``make_celery``'s
settings apply: late acks, reject on worker lost, prefetch 1), then shortens only the broker visibility timeout
and the restore sweep so a message held by a killed worker is redelivered within seconds, not hours. Nothing is
built at import: the app is created on first access of ``app`` (PEP 562), so the test process can import names.
"""

from __future__ import annotations

import os
import time
from typing import Any

BROKER = "redis://127.0.0.1:6379/8"
VISIBILITY_TIMEOUT_SECONDS = 5
SLOW_TASK = "killtoken.test.slow_append"

_built: dict[str, Any] = {}


def _build() -> Any:
    from app import create_app

    flask_app = create_app(environ={"KILLTOKEN_CELERY_BROKER_URL": BROKER, "KILLTOKEN_LOG_LEVEL": "INFO"})
    celery = flask_app.extensions["celery"]
    celery.conf.broker_transport_options = {
        **celery.conf.broker_transport_options,
        "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        "unacked_restore_interval": 1,   # sweep for expired unacked messages every second...
        "unacked_restore_throttle": 1,   # ...and scan on every sweep (defaults: a scan every 100 s)
    }

    @celery.task(name=SLOW_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def slow_append(self: Any, path: str, seconds: float) -> str:
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"start {os.getpid()} redelivered={redelivered}\n")
        time.sleep(seconds)
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"done {os.getpid()}\n")
        return "done"

    return celery


def __getattr__(name: str) -> Any:
    if name == "app":
        if "app" not in _built:
            _built["app"] = _build()
        return _built["app"]
    raise AttributeError(name)
