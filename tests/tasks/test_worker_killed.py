"""Issue 5: "a worker killed mid-task loses nothing", proved with a real worker process and SIGKILL.

A real ``celery worker`` (prefork, concurrency 1, the project's ``make_celery`` settings, broker Redis DB 8) starts
a slow late-acked task; the test SIGKILLs the worker's whole process group mid-task, so nothing can requeue or ack
it. A second worker gets the message back from the broker once the (test-shortened) visibility timeout passes and
finishes it: two starts, one done, nothing left in the queue or the unacked set. A separate test checks that the
production visibility timeout is longer than every countdown, backoff and expiry the tasks use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from tests.tasks.killable_tasks import BROKER, SLOW_TASK, VISIBILITY_TIMEOUT_SECONDS

ROOT = Path(__file__).resolve().parents[2]
TASK_SECONDS = 2.0   # well below the test visibility timeout, so the second worker's own sweep never re-sends it
REAL_TASKS = {"killtoken.measure_request", "killtoken.sweep_pending", "killtoken.run_batch",
              "killtoken.rollup_recent", "killtoken.rollup_bucket"}


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(BROKER, socket_timeout=0.5, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Worker:
    """One ``celery worker`` subprocess in its own session, so SIGKILL reaches the pool children too."""

    def __init__(self, name: str, queue: str, log: Path) -> None:
        self.node = f"{name}@killtoken-test"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILLTOKEN_") and k != "REDIS_URL"}
        env["PYTHONPATH"] = str(ROOT)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tests.tasks.killable_tasks", "worker", "--pool=prefork",
                 "--concurrency=1", "-Q", queue, "-n", self.node, "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "--loglevel=INFO"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 15.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.node} exited with {self.proc.returncode}:\n{self.text()}")
            return " ready." in self.text()

        _until(ready, timeout, f"{self.node} to be ready")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children (its whole process group), then reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):   # an orphaned pool child, if any survived the group kill
            os.killpg(self.proc.pid, signal.SIGKILL)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.mark.skipif(not _redis_up(), reason=f"needs the local Redis broker at {BROKER}")
def test_worker_killed_mid_task_loses_nothing(tmp_path: Path) -> None:
    admin = redis.Redis.from_url(BROKER, socket_timeout=5, socket_connect_timeout=5)
    keys_before = set(admin.keys("*"))
    queue = f"kt-test-killed-{uuid.uuid4().hex[:12]}"
    sender = Celery("kt-test-killed", broker=BROKER, set_as_current=False)
    sender.conf.update(broker_connection_retry_on_startup=False, task_serializer="json")
    marks = tmp_path / "attempts.txt"
    workers: list[Worker] = []
    try:
        first = Worker("killed-first", queue, tmp_path / "first.log")
        workers.append(first)
        first.wait_ready()

        # The real task names are registered on this worker and run: ask it, and run an empty batch.
        registered = sender.control.inspect(destination=[first.node], timeout=3).registered() or {}
        names = set(registered.get(first.node, []))
        assert REAL_TASKS | {SLOW_TASK} <= names, f"registered on the worker: {sorted(names)}"
        batch = sender.send_task("killtoken.run_batch", args=[[]], queue=queue)
        _until(lambda: f"killtoken.run_batch[{batch.id}] succeeded" in first.text(), 10, "the empty batch to run")

        slow = sender.send_task(SLOW_TASK, args=[str(marks), TASK_SECONDS], queue=queue)
        _until(lambda: any(line.startswith("start ") for line in _lines(marks)), 10, "the first attempt to start")
        first.kill()
        killed_at = time.monotonic()
        assert _lines(marks)[-1].startswith("start "), _lines(marks)   # killed mid-task: no "done" yet
        # Not acked, not requeued: the message sits in the broker's unacked set, and the queue is empty.
        held = [value for value in admin.hvals("unacked") if slow.id.encode() in value]
        assert len(held) == 1 and admin.llen(queue) == 0

        second = Worker("killed-second", queue, tmp_path / "second.log")
        workers.append(second)
        second.wait_ready()
        _until(lambda: any(line.startswith("done ") for line in _lines(marks)),
               VISIBILITY_TIMEOUT_SECONDS + TASK_SECONDS + 10, "the redelivered attempt to finish")
        redelivered_after = time.monotonic() - killed_at
        assert redelivered_after >= VISIBILITY_TIMEOUT_SECONDS - 1   # restored by the timeout, not requeued at once

        time.sleep(VISIBILITY_TIMEOUT_SECONDS + 1.5)   # long enough for a wrongful second redelivery to show
        lines = _lines(marks)
        starts = [line for line in lines if line.startswith("start ")]
        dones = [line for line in lines if line.startswith("done ")]
        assert len(starts) == 2 and len(dones) == 1, lines
        first_pid, second_pid = (line.split()[1] for line in starts)
        assert first_pid != second_pid and dones[0] == f"done {second_pid}", lines
        assert starts[0].endswith("redelivered=False") and starts[1].endswith("redelivered=True"), lines
        assert f"{SLOW_TASK}[{slow.id}] succeeded" in second.text()
        assert admin.llen(queue) == 0
        assert not [value for value in admin.hvals("unacked") if slow.id.encode() in value]
    finally:
        for worker in workers:
            worker.kill()
        sender.close()
        created = set(admin.keys("*")) - keys_before
        if created:
            admin.delete(*created)
        admin.close()


def test_production_visibility_timeout_exceeds_every_countdown_and_expiry() -> None:
    from app import create_app
    from tasks.measurement import MAX_RETRIES, RETRY_BACKOFF_SECONDS
    from tasks.schedule import BEAT_SCHEDULE

    celery = create_app(environ={"KILLTOKEN_CELERY_BROKER_URL": BROKER}).extensions["celery"]
    conf = celery.conf
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility > VISIBILITY_TIMEOUT_SECONDS
    assert len(RETRY_BACKOFF_SECONDS) == MAX_RETRIES   # bounded: one countdown per allowed retry
    assert visibility > max(RETRY_BACKOFF_SECONDS)
    assert visibility > sum(RETRY_BACKOFF_SECONDS)
    for entry in BEAT_SCHEDULE.values():
        assert visibility > entry["schedule"] and visibility > entry["options"]["expires"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    celery.loader.import_default_modules()
    for name in REAL_TASKS:
        task = celery.tasks[name]
        assert task.acks_late is True and task.reject_on_worker_lost is True, name
