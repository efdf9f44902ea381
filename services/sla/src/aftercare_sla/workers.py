"""The timer worker: polls for due SLA timers beside the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.events.envelope import utc_now
from aftercare_sla.timers import process_due_timers

logger = structlog.get_logger(__name__)


class SlaTimerWorker:
    """Fires due timers every ``poll_interval`` seconds; a full batch is followed at once."""

    name = "sla-timers"

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        poll_interval: float,
        batch_size: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._session_factory = session_factory
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._clock = clock
        self._stop_requested = asyncio.Event()

    async def run(self) -> None:
        while not self._stop_requested.is_set():
            fired = await process_due_timers(
                self._session_factory, now=self._clock(), batch_size=self._batch_size
            )
            if fired:
                logger.debug("sla timers processed", count=fired)
            if fired < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_requested.wait(), self._poll_interval)

    async def stop(self) -> None:
        # The batch in flight finishes (its transaction commits or rolls back whole).
        self._stop_requested.set()
