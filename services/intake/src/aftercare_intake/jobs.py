"""Intake's periodic job: forget Idempotency-Key answers past their retention window."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_intake import use_cases
from aftercare_shared.periodic import PeriodicJob

logger = structlog.get_logger(__name__)

# Expired records already stop counting when a key is claimed again (the claim deletes
# its own stale record); the purge only keeps the table from growing, so hourly is plenty.
IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 3600.0


def idempotency_purge_job(*, ttl: timedelta) -> PeriodicJob:
    async def purge(session_factory: async_sessionmaker[AsyncSession]) -> int:
        async with session_factory() as session:
            purged = await use_cases.purge_expired_idempotency_records(session, ttl=ttl)
        if purged:
            logger.info("purged expired idempotency records", count=purged)
        return purged

    return PeriodicJob(
        name="intake-idempotency-purge",
        interval_seconds=IDEMPOTENCY_PURGE_INTERVAL_SECONDS,
        run=purge,
    )
