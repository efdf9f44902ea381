"""The one periodic-job runner: rounds, full batches followed at once, errors survived."""

from __future__ import annotations

import asyncio
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.periodic import PeriodicJob, PeriodicWorker

FACTORY = cast(async_sessionmaker[AsyncSession], object())  # handed to the job untouched


async def _run_until(worker: PeriodicWorker, done: asyncio.Event, seconds: float = 2.0) -> None:
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(done.wait(), seconds)
    finally:
        await worker.stop()
        await asyncio.wait_for(task, seconds)


async def test_a_full_batch_is_followed_at_once_and_a_partial_one_waits() -> None:
    handled_per_round = [10, 10, 3, 10]
    rounds: list[int] = []
    done = asyncio.Event()

    async def one_round(factory: async_sessionmaker[AsyncSession]) -> int:
        assert factory is FACTORY
        handled = handled_per_round[len(rounds)]
        rounds.append(handled)
        if len(rounds) == 3:
            done.set()
        return handled

    job = PeriodicJob(name="timers", interval_seconds=60, run=one_round, batch_size=10)
    await _run_until(PeriodicWorker(job, FACTORY), done)
    # Two full rounds ran back to back; after the partial third the worker waited its
    # 60 s interval, so the fourth never ran before the stop.
    assert rounds == [10, 10, 3]


async def test_a_failing_round_is_logged_and_the_job_keeps_its_schedule() -> None:
    calls = 0
    done = asyncio.Event()

    async def flaky(factory: async_sessionmaker[AsyncSession]) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        done.set()
        return 0

    job = PeriodicJob(name="purge", interval_seconds=0.01, run=flaky)
    await _run_until(PeriodicWorker(job, FACTORY), done)
    assert calls >= 2


async def test_stop_ends_the_wait_between_rounds() -> None:
    ran = asyncio.Event()

    async def once(factory: async_sessionmaker[AsyncSession]) -> int:
        ran.set()
        return 0

    worker = PeriodicWorker(PeriodicJob(name="slow", interval_seconds=3600, run=once), FACTORY)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(ran.wait(), 2)
    await worker.stop()
    await asyncio.wait_for(task, 2)  # did not sit out the hour
    assert worker.name == "slow"
