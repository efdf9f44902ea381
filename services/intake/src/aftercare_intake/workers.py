"""Intake's housekeeping: forget Idempotency-Key answers past their retention window."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_intake import repository
from aftercare_intake.use_cases import utc_now

logger = structlog.get_logger(__name__)


class IdempotencyPurgeWorker:
    name = "intake-idempotency-purge"

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        retention: timedelta,
        interval_seconds: float = 3600.0,
    ) -> None:
        self._session_factory = session_factory
        self._retention = retention
        self._interval_seconds = interval_seconds
        self._stopped = asyncio.Event()

    async def purge_once(self) -> int:
        async with self._session_factory() as session:
            purged = await repository.purge_idempotency_records(
                session, expired_before=utc_now() - self._retention
            )
            await session.commit()
        if purged:
            logger.info("purged expired idempotency records", count=purged)
        return purged

    async def run(self) -> None:
        while not self._stopped.is_set():
            await self.purge_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self._interval_seconds)

    async def stop(self) -> None:
        self._stopped.set()
