"""Beat runs registered tasks; the embedded default can run every task the worker can."""

import tasks.measurement
import tasks.rollups
from app.services.exports import row
from tasks.registry import TASKS
from tasks.schedule import BEAT_SCHEDULE
from tests.tasks.trace_factory import make_trace, usage


def test_schedule_names_registered_tasks() -> None:
    names = {"killtoken.measure_request", "killtoken.sweep_pending", "killtoken.rollup_recent",
             "killtoken.rollup_bucket"}
    assert names <= set(TASKS)
    assert {entry["task"] for entry in BEAT_SCHEDULE.values()} == {"killtoken.rollup_recent",
                                                                   "killtoken.sweep_pending"}
    assert BEAT_SCHEDULE["rollup-recent"]["schedule"] == 60.0
    assert tasks.measurement.measure_request_task.acks_late is True
    assert tasks.measurement.measure_request_task.max_retries == tasks.measurement.MAX_RETRIES == 5
    assert max(tasks.measurement.RETRY_BACKOFF_SECONDS) < 2 * 60 * 60  # below the visibility timeout
    assert tasks.rollups.rollup_recent_task.acks_late is True


def test_csv_row_is_privacy_safe_and_formula_proof() -> None:
    trace = make_trace(feature="=HYPERLINK(\"http://x\")", usage=usage(100, 10), costNanos=54_399_000,
                       metadata={"customer": "secret@corp.io"})
    cells = row(trace)
    assert cells[6] == "'=HYPERLINK(\"http://x\")"
    assert "secret@corp.io" not in repr(cells)
    assert 0.054399 in cells
