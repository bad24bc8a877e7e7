"""Celery tasks ``killtoken.rollup_recent`` (beat, every minute) and ``killtoken.rollup_bucket``.

Both recompute buckets from traces and write them whole, so duplicates and redeliveries are harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import shared_task

from app.extensions import handles
from app.services import rollups
from app.store import rollups as rollup_store
from tasks.registry import task_function

RECENT = "killtoken.rollup_recent"
BUCKET = "killtoken.rollup_bucket"


@task_function(RECENT)
def rollup_recent(payload: dict[str, Any] | None = None) -> dict[str, int]:
    return rollups.refresh(handles().db)


@task_function(BUCKET)
def rollup_bucket(payload: dict[str, Any]) -> bool:
    """Rebuild one bucket, given a trace-like ``{"tenantId", "createdAt" (ISO), "provider", "model",
    "feature"}`` or a ``{"bucketId"}``."""
    db = handles().db
    bucket_id = payload.get("bucketId")
    if bucket_id is None:
        trace = {**payload, "createdAt": datetime.fromisoformat(payload["createdAt"])}
        key = rollups.bucket_key(trace)
        rollup_store.mark(db, key, rollups.utcnow())
        bucket_id = rollup_store.bucket_id(*(key[name] for name in rollup_store.KEY_FIELDS))
    return rollups.rebuild(db, bucket_id)


@shared_task(name=RECENT, acks_late=True, ignore_result=True, max_retries=0)
def rollup_recent_task(payload: dict[str, Any] | None = None) -> dict[str, int]:
    return rollup_recent(payload)


@shared_task(name=BUCKET, acks_late=True, ignore_result=True, max_retries=0)
def rollup_bucket_task(payload: dict[str, Any]) -> bool:
    return rollup_bucket(payload)
