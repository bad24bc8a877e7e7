"""Celery tasks ``killtoken.measure_request`` and ``killtoken.sweep_pending``; thin wrappers of the service.

``measure_request`` is acknowledged late (a worker killed mid-task gets it redelivered) and idempotent (the
service claims the trace's ``pending`` state). Transient failures retry with backoff, at most
``MAX_RETRIES`` times, every countdown far below the broker's visibility timeout; after the last one the
trace is marked ``failed``. The plain functions are what the embedded default runs in-process.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from flask import current_app
from pymongo.errors import PyMongoError

from app.extensions import handles
from app.services import measurement
from app.services.rollups import utcnow
from tasks.registry import attempt_function, task_function

log = logging.getLogger("killtoken.tasks.measurement")

MEASURE = "killtoken.measure_request"
SWEEP = "killtoken.sweep_pending"
MAX_RETRIES = 5
RETRY_BACKOFF_SECONDS = (2, 10, 30, 60, 120)
RETRYABLE = (measurement.TraceNotReady, PyMongoError)


@attempt_function(MEASURE)
def _measure(payload: dict[str, Any]) -> str:
    app = current_app
    return measurement.measure(handles().db, app.extensions["killtoken_pricer"], app.config["KILLTOKEN"],
                               payload).status


@task_function(MEASURE)
def measure_request(payload: dict[str, Any]) -> str:
    """In-process run: one attempt, then ``failed`` on the trace instead of a silent pending."""
    try:
        return _measure(payload)
    except Exception as exc:
        log.warning("measurement of %s failed: %s", payload.get("requestId"), type(exc).__name__)
        measurement.mark_failed(handles().db, payload, type(exc).__name__)
        return "failed"


@task_function(SWEEP)
def sweep_pending(payload: dict[str, Any] | None = None) -> int:
    return measurement.sweep_pending(handles().db, current_app.config["KILLTOKEN"], utcnow())


@shared_task(name=MEASURE, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES,
             ignore_result=True)
def measure_request_task(self: Any, payload: dict[str, Any]) -> str:
    try:
        return _measure(payload)
    except RETRYABLE as exc:
        if self.request.retries >= MAX_RETRIES:
            measurement.mark_failed(handles().db, payload, type(exc).__name__)
            return "failed"
        raise self.retry(exc=exc, countdown=RETRY_BACKOFF_SECONDS[self.request.retries]) from None
    except Exception as exc:  # a bug, not a transient failure: retrying cannot help
        log.exception("measurement of %s failed", payload.get("requestId"))
        measurement.mark_failed(handles().db, payload, type(exc).__name__)
        return "failed"


@shared_task(name=SWEEP, acks_late=True, ignore_result=True)
def sweep_pending_task(payload: dict[str, Any] | None = None) -> int:
    return sweep_pending(payload)
