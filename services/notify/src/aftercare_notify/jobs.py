"""Notify's periodic job: keep history bounded by deleting messages past the retention window."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_notify import repository
from aftercare_shared.clock import utc_now
from aftercare_shared.periodic import PeriodicJob

logger = structlog.get_logger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


async def purge_expired_messages(
    session_factory: async_sessionmaker[AsyncSession], *, retention: timedelta
) -> int:
    """One purge round: delete what is past ``retention``; returns how many messages."""
    async with session_factory() as session:
        purged = await repository.purge_messages_received_before(session, utc_now() - retention)
        await session.commit()
    if purged:
        logger.info("purged messages past retention", count=purged)
    return purged


def retention_job(*, retention: timedelta) -> PeriodicJob:
    """The hourly purge; one DELETE takes everything due, so a round never needs a rerun."""

    async def purge_round(session_factory: async_sessionmaker[AsyncSession]) -> int:
        return await purge_expired_messages(session_factory, retention=retention)

    return PeriodicJob(
        name="notify-retention", interval_seconds=PURGE_INTERVAL_SECONDS, run=purge_round
    )
