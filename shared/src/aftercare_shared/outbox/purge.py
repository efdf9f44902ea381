"""Deleting published outbox rows once they are older than the retention setting.

A published row is only history (``aftercare outbox status`` counts it; a replay reads
Kafka, not the outbox), yet without a purge the outbox grows by every event ever sent.
Each service runs :func:`outbox_purge_job` (the platform adds it to every ServiceSpec's
periodic jobs). A round deletes at most ``batch_size`` rows, oldest publication first,
through the ``ix_outbox_published_at`` partial index, so it never scans the table or
holds long locks; a full round is followed by another at once. Rows still unpublished
are never touched, however old. Replicas share the work: ``SKIP LOCKED`` lets two purges
take different rows.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import Delete, MetaData, Table, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import utc_now
from aftercare_shared.outbox.tables import outbox_table
from aftercare_shared.periodic import PeriodicJob

logger = structlog.get_logger(__name__)

PURGE_INTERVAL_SECONDS = 60.0
PURGE_BATCH_SIZE = 1000


def purge_statement(outbox: Table) -> Delete:
    """Delete up to ``:limit`` rows published before ``:cutoff``, oldest first."""
    expired = (
        select(outbox.c.id)
        .where(outbox.c.published_at < bindparam("cutoff"))
        .order_by(outbox.c.published_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    return delete(outbox).where(outbox.c.id.in_(expired.scalar_subquery()))


class OutboxPurge:
    """One schema's purge rounds (the statement is built once and prepared once)."""

    def __init__(self, schema: str, *, retention: timedelta, batch_size: int) -> None:
        self.schema = schema
        self.retention = retention
        self.batch_size = batch_size
        self._statement = purge_statement(outbox_table(MetaData(schema=schema)))

    async def purge_round(self, session_factory: async_sessionmaker[AsyncSession]) -> int:
        """Delete one batch of rows published more than ``retention`` ago; how many."""
        async with session_factory() as session:
            result = await session.execute(
                self._statement,
                {"cutoff": utc_now() - self.retention, "limit": self.batch_size},
            )
            await session.commit()
        purged = int(result.rowcount)  # type: ignore[attr-defined]
        if purged:
            logger.info("purged published outbox rows", schema=self.schema, count=purged)
        return purged


def outbox_purge_job(
    schema: str, *, retention: timedelta, batch_size: int = PURGE_BATCH_SIZE
) -> PeriodicJob:
    """The periodic job keeping ``schema``'s outbox to its unpublished rows plus
    ``retention`` of history."""
    purge = OutboxPurge(schema, retention=retention, batch_size=batch_size)
    return PeriodicJob(
        name=f"outbox-purge:{schema}",
        interval_seconds=PURGE_INTERVAL_SECONDS,
        run=purge.purge_round,
        batch_size=batch_size,
    )
