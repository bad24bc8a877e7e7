"""Task name → plain function, so the embedded default runs exactly what a Celery worker runs.

``TASKS`` holds each task's in-process variant (one attempt, failures recorded). ``ATTEMPTS`` holds the raw
attempt that raises on a retryable failure, which ``killtoken.run_batch`` uses: an item that raises is handed
to its own Celery task, with that task's bounded retries.
"""

from collections.abc import Callable
from typing import Any

TaskFunction = Callable[[dict[str, Any]], Any]
TASKS: dict[str, TaskFunction] = {}
ATTEMPTS: dict[str, TaskFunction] = {}


def task_function(name: str) -> Callable[[TaskFunction], TaskFunction]:
    """Register a plain function under its Celery task name."""

    def register(func: TaskFunction) -> TaskFunction:
        TASKS[name] = func
        return func

    return register


def attempt_function(name: str) -> Callable[[TaskFunction], TaskFunction]:
    """Register the raw attempt of a task (raises on failure) for batched delivery."""

    def register(func: TaskFunction) -> TaskFunction:
        ATTEMPTS[name] = func
        return func

    return register
