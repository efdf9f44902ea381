"""The releases service's periodic jobs: the durable timer that publishes scheduled releases.

A scheduled release is a row with a due time (``publish_at``). Every replica runs this job;
each round claims due releases with ``FOR UPDATE SKIP LOCKED`` and publishes them in one
transaction, so a release is published exactly once whichever replica gets to it, and a
restart loses nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases import use_cases
from aftercare_releases.settings import ReleasesSettings
from aftercare_shared.periodic import PeriodicJob


def scheduled_publish_job(settings: ReleasesSettings) -> PeriodicJob:
    batch_size = settings.scheduler_batch_size

    async def publish_due(session_factory: async_sessionmaker[AsyncSession]) -> int:
        async with session_factory() as session:
            return await use_cases.publish_due_releases(session, limit=batch_size)

    return PeriodicJob(
        name="releases-scheduled-publish",
        interval_seconds=settings.scheduler_interval_seconds,
        run=publish_due,
        batch_size=batch_size,
    )
