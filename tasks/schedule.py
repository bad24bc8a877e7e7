"""Celery beat schedule; owned by the analytics engineer (rollups, measurement sweeper)."""

from typing import Any

BEAT_SCHEDULE: dict[str, Any] = {}
