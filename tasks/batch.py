"""``killtoken.run_batch``: many small task payloads delivered in one broker message.

The web process publishes one batch per flush (see ``app/services/dispatch.py``). Each item runs its task's raw
attempt; an item that fails is re-published as its own task, which then retries with its own bounded policy,
so one bad item never redelivers the whole batch. Items are idempotent, so a redelivered batch is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from tasks.registry import ATTEMPTS

log = logging.getLogger("killtoken.tasks.batch")

BATCH = "killtoken.run_batch"


@shared_task(name=BATCH, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_batch(self: Any, items: list[list[Any]]) -> int:
    done = 0
    for name, payload in items:
        attempt = ATTEMPTS.get(name)
        try:
            if attempt is None:
                raise LookupError(name)
            attempt(payload)
            done += 1
        except Exception as exc:
            log.info("batched %s for %s handed to its own task: %s", name,
                     (payload or {}).get("requestId"), type(exc).__name__)
            self.app.send_task(name, args=[payload])
    return done
