"""The Celery app bound to a Flask app: tasks run inside its app context and share its settings.

Reliability settings (issue 5): late acks so a worker killed mid-task loses nothing, a broker visibility
timeout longer than any countdown or ETA we use, prefetch 1, and bounded retries declared per task.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

TASK_MODULES = ["tasks.measurement", "tasks.rollups", "tasks.batch"]
# Longer than every retry countdown (at most 120 s, 222 s in all) and beat expiry, shorter than the sweeper's
# 15-minute grace: a killed worker's task is redelivered well before its trace would be marked skipped.
VISIBILITY_TIMEOUT_SECONDS = 10 * 60


def make_celery(app: Flask) -> Celery:
    settings = app.config["KILLTOKEN"]

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=settings["KILLTOKEN_CELERY_BROKER_URL"] or "memory://",
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
                                  "unacked_restore_interval": 10, "unacked_restore_throttle": 1},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=1.0,
        broker_connection_max_retries=None,  # workers reconnect forever; the web side publishes with retry=False
        include=TASK_MODULES,
        beat_schedule=_beat_schedule(),
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def _beat_schedule() -> dict[str, Any]:
    from tasks.schedule import BEAT_SCHEDULE

    return BEAT_SCHEDULE
