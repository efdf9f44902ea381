"""Records delivery attempts in batches, group-commit style.

Attempts finish concurrently; each one's result waits in a queue. One flusher takes
everything waiting (up to ``MAX_BATCH``) and records it in one transaction
(``use_cases.record_attempts``), then takes what arrived meanwhile. Under light load a
batch is one attempt and nothing waits; under heavy load batches grow by themselves and
the database sees a few statements per batch instead of five per attempt.

A batch that fails is recorded again attempt by attempt, so one bad row costs only
itself; an attempt that still cannot be recorded is left to its lease, which makes the
delivery due again (late, never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_notify import use_cases
from aftercare_notify.domain.retry_schedule import RetrySchedule
from aftercare_notify.use_cases import AttemptToRecord, RecordedOutcome

logger = structlog.get_logger(__name__)

MAX_BATCH = 500

_Waiting = tuple[AttemptToRecord, "asyncio.Future[RecordedOutcome | None]"]


class AttemptRecorder:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        schedule: RetrySchedule,
        disable_after: timedelta,
    ) -> None:
        self._session_factory = session_factory
        self._schedule = schedule
        self._disable_after = disable_after
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever())

    async def close(self) -> None:
        """Record what is waiting, then stop."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        while self._waiting:
            await self._flush_once()

    async def record(self, attempt: AttemptToRecord) -> RecordedOutcome | None:
        """Wait until ``attempt`` is recorded; None when a newer claim or a deletion won."""
        future: asyncio.Future[RecordedOutcome | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((attempt, future))
        self._arrived.set()
        return await future

    async def _flush_forever(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                await self._flush_once()

    async def _flush_once(self) -> None:
        batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        try:
            async with self._session_factory() as session:
                outcomes = await use_cases.record_attempts(
                    session=session,
                    attempts=[attempt for attempt, _ in batch],
                    schedule=self._schedule,
                    disable_after=self._disable_after,
                )
        except Exception:
            logger.warning("recording a batch of attempts failed; one by one", exc_info=True)
            for attempt, future in batch:
                await self._record_alone(attempt, future)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _record_alone(
        self, attempt: AttemptToRecord, future: asyncio.Future[RecordedOutcome | None]
    ) -> None:
        try:
            async with self._session_factory() as session:
                (outcome,) = await use_cases.record_attempts(
                    session=session,
                    attempts=[attempt],
                    schedule=self._schedule,
                    disable_after=self._disable_after,
                )
        except Exception as error:
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(outcome)
