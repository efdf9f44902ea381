"""The outbox purge on real Postgres: only published rows past retention go, in bounded batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import MetaData, Table, select, text, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from aftercare_shared.clock import utc_now
from aftercare_shared.outbox import enqueue_events
from aftercare_shared.outbox.purge import OutboxPurge
from aftercare_shared.outbox.tables import outbox_table
from tests.support.infra import (
    make_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

RETENTION = timedelta(hours=24)


async def write_rows(
    engine: AsyncEngine, schema: str, label: str, count: int, *, published_ago: timedelta | None
) -> None:
    """``count`` outbox rows whose subject is ``label``: unpublished (``None``) or published
    ``published_ago`` before now, all created two days ago."""
    outbox = outbox_table(MetaData(schema=schema))
    events = [make_event(subject=label, data={"sequence": n}) for n in range(count)]
    two_days_ago = utc_now() - timedelta(days=2)
    async with AsyncSession(engine) as session, session.begin():
        await enqueue_events(session, events, schema=schema)
        await session.execute(
            update(outbox)
            .where(outbox.c.record_key == label)
            .values(
                created_at=two_days_ago,
                published_at=None if published_ago is None else utc_now() - published_ago,
            )
        )


async def labels_left(engine: AsyncEngine, outbox: Table) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(outbox.c.record_key, text("count(*)")).group_by(outbox.c.record_key)
        )
    return {row[0]: int(row[1]) for row in rows}


async def test_purge_deletes_only_published_rows_past_retention_in_bounded_batches(
    engine: AsyncEngine, schema: str
) -> None:
    await write_rows(engine, schema, "unpublished", 4, published_ago=None)
    await write_rows(engine, schema, "expired", 7, published_ago=RETENTION + timedelta(hours=1))
    await write_rows(engine, schema, "recent", 3, published_ago=RETENTION - timedelta(hours=1))
    outbox = outbox_table(MetaData(schema=schema))
    purge = OutboxPurge(schema, retention=RETENTION, batch_size=3)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    rounds = [await purge.purge_round(sessions) for _ in range(4)]

    assert rounds == [3, 3, 1, 0], "each round deletes at most one batch, until none is due"
    assert await labels_left(engine, outbox) == {"unpublished": 4, "recent": 3}


async def test_the_purge_reads_published_rows_through_its_index(
    engine: AsyncEngine, schema: str
) -> None:
    async with engine.connect() as connection:
        definition = await connection.scalar(
            text(
                "SELECT indexdef FROM pg_indexes"
                " WHERE schemaname = :schema AND indexname = 'ix_outbox_published_at'"
            ),
            {"schema": schema},
        )
    assert definition is not None
    assert definition.endswith("(published_at) WHERE (published_at IS NOT NULL)")
