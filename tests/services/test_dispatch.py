"""The background dispatcher: batching, broker failure without losing work, in-process runs."""

from __future__ import annotations

import time

import pytest

from app.services import dispatch
from app.services.dispatch import BATCH_TASK, Dispatcher


class FlakyBroker:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[str, list]] = []

    def send_task(self, name: str, args: list, retry: bool) -> None:
        assert retry is False
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("broker down")
        self.sent.append((name, args))


def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    monkeypatch.setattr(dispatch, "BACKOFF_SECONDS", (0.05,))


def test_requests_batch_into_one_message():
    broker = FlakyBroker(failures=0)
    dispatcher = Dispatcher("celery", broker, lambda *_: None)
    for index in range(5):
        assert dispatcher.send("killtoken.measure_request", {"requestId": f"req_{index}"})
    _wait(lambda: sum(len(args[0]) for _, args in broker.sent) == 5)
    assert {name for name, _ in broker.sent} == {BATCH_TASK}
    items = [item for _, args in broker.sent for item in args[0]]
    assert items == [["killtoken.measure_request", {"requestId": f"req_{i}"}] for i in range(5)]
    assert len(broker.sent) <= 2


def test_broker_down_keeps_work_and_delivers_when_it_returns():
    broker = FlakyBroker(failures=3)
    dispatcher = Dispatcher("celery", broker, lambda *_: None)
    started = time.monotonic()
    for index in range(3):
        dispatcher.send("killtoken.measure_request", {"requestId": f"req_{index}"})
    assert time.monotonic() - started < 0.05  # the request path never waits for the broker
    _wait(lambda: broker.sent)
    items = [item[1]["requestId"] for _, args in broker.sent for item in args[0]]
    assert items == ["req_0", "req_1", "req_2"]


def test_buffer_is_bounded_while_the_broker_is_down(monkeypatch):
    monkeypatch.setattr(dispatch, "MAX_BUFFERED", 3)
    broker = FlakyBroker(failures=10**6)
    dispatcher = Dispatcher("celery", broker, lambda *_: None)
    accepted = [dispatcher.send("t", {"requestId": str(i)}) for i in range(10)]
    assert accepted[:3] == [True, True, True] and False in accepted
    time.sleep(0.2)
    assert len(dispatcher._buffer) <= 3 and broker.sent == []


def test_inprocess_mode_runs_each_task_in_order():
    ran: list[str] = []
    dispatcher = Dispatcher("inprocess", None, lambda name, payload: ran.append(payload["requestId"]))
    for index in range(4):
        dispatcher.send("killtoken.measure_request", {"requestId": str(index)})
    _wait(lambda: len(ran) == 4)
    assert ran == ["0", "1", "2", "3"]
