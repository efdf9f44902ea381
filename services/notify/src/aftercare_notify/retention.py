"""Keep notify's history bounded: messages older than the retention window are deleted."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_notify import repository
from aftercare_shared.events.envelope import utc_now
from aftercare_shared.workers import PeriodicWorker

logger = structlog.get_logger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


async def purge_expired_messages(
    session_factory: async_sessionmaker[AsyncSession], *, retention: timedelta
) -> int:
    async with session_factory() as session:
        purged = await repository.purge_messages_received_before(session, utc_now() - retention)
        await session.commit()
    if purged:
        logger.info("purged messages past retention", count=purged)
    return purged


def retention_worker(
    *, session_factory: async_sessionmaker[AsyncSession], retention: timedelta
) -> PeriodicWorker:
    async def purge_once() -> int:
        return await purge_expired_messages(session_factory, retention=retention)

    return PeriodicWorker(
        name="notify-retention", interval_seconds=PURGE_INTERVAL_SECONDS, job=purge_once
    )
