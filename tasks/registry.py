"""Task name → plain function, so the embedded default runs exactly what a Celery worker runs."""

from collections.abc import Callable
from typing import Any

TASKS: dict[str, Callable[[dict[str, Any]], Any]] = {}


def task_function(name: str) -> Callable[[Callable[[dict[str, Any]], Any]], Callable[[dict[str, Any]], Any]]:
    """Register a plain function under its Celery task name."""

    def register(func: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        TASKS[name] = func
        return func

    return register
