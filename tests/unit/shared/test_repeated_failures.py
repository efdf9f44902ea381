"""Background workers' repeated failures: one traceback per kind per window, with a count."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from aftercare_shared import periodic
from aftercare_shared.observability.repeated_failures import RepeatedFailureLog
from aftercare_shared.periodic import PeriodicJob, PeriodicWorker


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_kind_is_logged_once_per_window_and_the_next_line_carries_the_count() -> None:
    clock = _Clock()
    with capture_logs() as lines:
        failures = RepeatedFailureLog(structlog.get_logger("t"), window_seconds=30, clock=clock)
        for _ in range(500):
            failures.exception("job round failed", ConnectionRefusedError("refused"))
        failures.exception("job round failed", TimeoutError("slow"))  # another kind
        clock.now = 30.0
        failures.exception("job round failed", ConnectionRefusedError("refused"))
    assert [(line["event"], line.get("repeated")) for line in lines] == [
        ("job round failed", None),
        ("job round failed", None),
        ("job round failed", 499),
    ]
    assert all(line["log_level"] == "error" and line["exc_info"] for line in lines)


def test_success_after_suppressed_failures_says_so_once_and_starts_afresh() -> None:
    clock = _Clock()
    with capture_logs() as lines:
        failures = RepeatedFailureLog(structlog.get_logger("t"), window_seconds=30, clock=clock)
        failures.succeeded("works again")  # nothing failed: nothing to say
        for _ in range(3):
            failures.exception("relay interrupted", OSError("down"))
        failures.succeeded("works again")
        failures.succeeded("works again")
        failures.exception("relay interrupted", OSError("down"))  # a new outage: logged
    assert [(line["event"], line.get("failures")) for line in lines] == [
        ("relay interrupted", None),
        ("works again", 3),
        ("relay interrupted", None),
    ]


async def test_a_periodic_job_failing_every_round_logs_one_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A service app started earlier in the run has used (and, with the app's logging
    # settings, cached) the module's logger; a fresh one is bound under capture_logs.
    monkeypatch.setattr(periodic, "logger", structlog.get_logger(periodic.__name__))
    rounds = 0
    fifty_rounds = asyncio.Event()

    async def failing_round(_: async_sessionmaker[AsyncSession]) -> int:
        nonlocal rounds
        rounds += 1
        if rounds == 50:
            fifty_rounds.set()
        raise ConnectionRefusedError("database restarting")

    job = PeriodicJob(name="failing", interval_seconds=0.001, run=failing_round)
    with capture_logs() as lines:
        # The job never opens a session: an unbound factory is enough.
        worker = PeriodicWorker(job, async_sessionmaker())
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(fifty_rounds.wait(), 30)
        await worker.stop()
        await task
    failed = [line for line in lines if line["event"] == "periodic job round failed"]
    assert len(failed) == 1
    assert failed[0]["job"] == "failing"
