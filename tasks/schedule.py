"""Celery beat schedule (analytics): rollups every minute, the measurement sweeper every five.

Each entry expires before the next run is due, so a beat that ran while workers were down does not pile
up a backlog of identical jobs (each run already covers everything the skipped ones would have).
"""

from typing import Any

BEAT_SCHEDULE: dict[str, Any] = {
    "rollup-recent": {"task": "killtoken.rollup_recent", "schedule": 60.0, "options": {"expires": 55}},
    "sweep-pending": {"task": "killtoken.sweep_pending", "schedule": 300.0, "options": {"expires": 290}},
}
