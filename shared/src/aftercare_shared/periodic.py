"""Periodic jobs: timers, retention, schedulers — declared on the ServiceSpec, one runner.

A job is a function of the session factory that does one round of work and says how
many items it handled. The :class:`PeriodicWorker` runs it now and every
``interval_seconds``; when a round handled a full ``batch_size``, more is probably due,
so the next round starts at once instead of after the interval. A round that raises is
logged and retried at the next interval: a job never dies with a bad moment. While a
dependency is down every round fails alike, so a failure's traceback is logged once per
kind per window, with a count of the repeats
(:mod:`aftercare_shared.observability.repeated_failures`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.observability.repeated_failures import RepeatedFailureLog

logger = structlog.get_logger(__name__)

JobRound = Callable[[async_sessionmaker[AsyncSession]], Awaitable[int]]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_seconds: float
    run: JobRound
    """One round of work; returns how many items it handled."""
    batch_size: int | None = None
    """A round that handled this many items is followed by another at once."""


class PeriodicWorker:
    """Runs one :class:`PeriodicJob` until stopped; a round in flight always finishes."""

    def __init__(self, job: PeriodicJob, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.name = job.name
        self._job = job
        self._session_factory = session_factory
        self._stop_requested = asyncio.Event()
        self._failures = RepeatedFailureLog(logger.bind(job=job.name))

    async def run(self) -> None:
        while not self._stop_requested.is_set():
            handled = await self._run_round()
            if self._job.batch_size is not None and handled >= self._job.batch_size:
                await asyncio.sleep(0)  # let the HTTP server breathe between full rounds
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), self._job.interval_seconds)

    async def _run_round(self) -> int:
        try:
            handled = await self._job.run(self._session_factory)
        except Exception as error:
            self._failures.exception("periodic job round failed", error)
            return 0
        self._failures.succeeded("periodic job rounds succeed again")
        if handled:
            logger.debug("periodic job round", job=self._job.name, handled=handled)
        return handled

    async def stop(self) -> None:
        self._stop_requested.set()
