"""Intake's housekeeping: forget Idempotency-Key answers past their retention window."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_intake import repository
from aftercare_intake.use_cases import utc_now
from aftercare_shared.workers import PeriodicWorker

logger = structlog.get_logger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


def idempotency_purge_worker(
    *, session_factory: async_sessionmaker[AsyncSession], retention: timedelta
) -> PeriodicWorker:
    async def purge_once() -> int:
        async with session_factory() as session:
            purged = await repository.purge_idempotency_records(
                session, expired_before=utc_now() - retention
            )
            await session.commit()
        if purged:
            logger.info("purged expired idempotency records", count=purged)
        return purged

    return PeriodicWorker(
        name="intake-idempotency-purge", interval_seconds=PURGE_INTERVAL_SECONDS, job=purge_once
    )
