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
MAX_RETRIES = 5
RETRY_COUNTDOWN_SECONDS = 10


@shared_task(name=BATCH, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_batch(self: Any, items: list[list[Any]]) -> int:
    done, unhanded = 0, None
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
            try:
                self.app.send_task(name, args=[payload])
            except Exception as publish_error:  # keep going; the whole batch is retried below (items idempotent)
                unhanded = publish_error
    if unhanded is not None:
        raise self.retry(exc=unhanded, countdown=RETRY_COUNTDOWN_SECONDS, max_retries=MAX_RETRIES)
    return done
