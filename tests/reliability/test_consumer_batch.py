"""The consumer's batch path against the record-by-record path it speeds up (real Postgres).

The same deliveries go through :func:`apply_batch` (one transaction) and through
:func:`apply_once` (one transaction each); the database must end up the same: inbox
rows, handler effects in order, and the outbox events handlers emit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy import BigInteger, Column, Identity, MetaData, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from aftercare_shared.consumer import EventHandlers
from aftercare_shared.consumer.batch import BatchFailedError, Delivery, apply_batch
from aftercare_shared.consumer.processing import apply_once
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import TicketClosed, TicketCreated
from aftercare_shared.events.factory import new_event
from aftercare_shared.outbox import enqueue_event, outbox_table
from aftercare_shared.outbox.tables import inbox_table

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GROUP = "test-group"
PATHS = ["batch", "one by one"]


def effects_table(schema: str) -> Table:
    return Table(
        "effects",
        MetaData(schema=schema),
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("what", Text, nullable=False),
    )


@pytest.fixture
async def schema(schema: str, engine: AsyncEngine) -> str:
    """The shared messaging schema, with this module's own table in it."""
    async with engine.begin() as connection:
        await connection.run_sync(effects_table(schema).create)
    return schema


def created(ticket: str) -> CloudEvent:
    payload = TicketCreated(
        ticket_id=ticket,
        client_id="c-1",
        title="Checkout fails",
        severity="high",
        priority="P2",
        status="new",
        fingerprint=f"fp-{ticket}",
        created_at=AT,
    )
    return new_event(payload, service="intake", subject=ticket, client_id="c-1")


def closed(ticket: str) -> CloudEvent:
    payload = TicketClosed(ticket_id=ticket, client_id="c-1", closed_at=AT)
    return new_event(payload, service="intake", subject=ticket, client_id="c-1")


def deliveries(events: Sequence[CloudEvent], *, partition: int = 0) -> list[Delivery]:
    return [
        Delivery(
            ConsumerRecord(
                "t", partition, offset, 0, 0, None, event.to_json_bytes(), None, 0, 0, headers=[]
            ),
            event,
        )
        for offset, event in enumerate(events)
    ]


def registry(schema: str, *, set_based: bool, fail_on: str | None = None) -> EventHandlers:
    """Records each effect; closing a ticket also emits an event through the outbox."""
    effects = effects_table(schema)
    handlers = EventHandlers()

    async def record(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
        if any(ticket.ticket_id == fail_on for ticket in tickets):
            raise RuntimeError(f"cannot apply {fail_on}")
        await session.execute(
            insert(effects), [{"what": f"created {ticket.ticket_id}"} for ticket in tickets]
        )

    if set_based:
        handlers.add_many(TicketCreated, record)
    else:

        @handlers.on(TicketCreated)
        async def one(session: AsyncSession, ticket: TicketCreated) -> None:
            await record(session, [ticket])

    @handlers.on(TicketClosed)
    async def close(session: AsyncSession, ticket: TicketClosed) -> None:
        await session.execute(insert(effects).values(what=f"closed {ticket.ticket_id}"))
        follow_up = created(f"{ticket.ticket_id}-follow-up")
        await enqueue_event(session, follow_up, schema=schema)

    return handlers


async def apply(
    path: str,
    engine: AsyncEngine,
    schema: str,
    events: Sequence[CloudEvent],
    handlers: EventHandlers,
) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    inbox = inbox_table(MetaData(schema=schema))
    if path == "batch":
        await apply_batch(
            session_factory=sessions,
            inbox=inbox,
            consumer=GROUP,
            deliveries=deliveries(events),
            handler=handlers,
        )
        return
    for event in events:
        await apply_once(
            session_factory=sessions, inbox=inbox, consumer=GROUP, event=event, handler=handlers
        )


async def database_state(engine: AsyncEngine, schema: str) -> tuple[list[str], int, int]:
    """Effects in the order applied, inbox rows, outbox rows."""
    metadata = MetaData(schema=schema)
    async with engine.connect() as connection:
        effects = (
            await connection.execute(
                select(effects_table(schema).c.what).order_by(effects_table(schema).c.id)
            )
        ).scalars()
        inbox = await connection.scalar(select(func.count()).select_from(inbox_table(metadata)))
        outbox = await connection.scalar(select(func.count()).select_from(outbox_table(metadata)))
    return list(effects), int(inbox or 0), int(outbox or 0)


@pytest.mark.parametrize("set_based", [False, True], ids=["per-event", "set-based"])
@pytest.mark.parametrize("path", PATHS)
async def test_both_paths_apply_each_event_once_in_order_with_its_outbox_events(
    engine: AsyncEngine, schema: str, path: str, set_based: bool
) -> None:
    handlers = registry(schema, set_based=set_based)
    earlier = created("t-0")
    await apply(path, engine, schema, [earlier], handlers)
    a, b, c = created("t-1"), created("t-2"), created("t-3")
    # Already applied before, twice in this delivery, and a run broken by another type.
    events = [earlier, a, b, a, closed("t-1"), c, b]

    await apply(path, engine, schema, events, handlers)

    effects, inbox_rows, outbox_rows = await database_state(engine, schema)
    assert effects == ["created t-0", "created t-1", "created t-2", "closed t-1", "created t-3"]
    assert inbox_rows == 5
    assert outbox_rows == 1, "the event a handler emitted commits with the batch"


async def test_a_failing_batch_changes_nothing_and_blames_the_record_whose_handler_raised(
    engine: AsyncEngine, schema: str
) -> None:
    events = [created("t-1"), closed("t-1"), created("t-2"), closed("t-9")]
    handlers = registry(schema, set_based=False, fail_on="t-2")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    batch = deliveries(events)

    with pytest.raises(BatchFailedError) as failed:
        await apply_batch(
            session_factory=sessions,
            inbox=inbox_table(MetaData(schema=schema)),
            consumer=GROUP,
            deliveries=batch,
            handler=handlers,
        )

    assert failed.value.blamed is batch[2].record
    assert await database_state(engine, schema) == ([], 0, 0)


async def test_a_failing_set_based_run_is_no_single_records_fault(
    engine: AsyncEngine, schema: str
) -> None:
    events = [created("t-1"), created("t-2"), created("t-3")]
    handlers = registry(schema, set_based=True, fail_on="t-2")
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    with pytest.raises(BatchFailedError) as failed:
        await apply_batch(
            session_factory=sessions,
            inbox=inbox_table(MetaData(schema=schema)),
            consumer=GROUP,
            deliveries=deliveries(events),
            handler=handlers,
        )

    assert failed.value.blamed is None
    assert await database_state(engine, schema) == ([], 0, 0)


async def test_a_run_gathers_its_type_from_every_partition_each_in_offset_order(
    engine: AsyncEngine, schema: str
) -> None:
    first_partition = deliveries([created("t-1"), closed("t-1"), created("t-2")], partition=0)
    second_partition = deliveries([created("t-3"), created("t-4")], partition=1)

    await apply_batch(
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        inbox=inbox_table(MetaData(schema=schema)),
        consumer=GROUP,
        deliveries=first_partition + second_partition,
        handler=registry(schema, set_based=True),
    )

    effects, inbox_rows, _ = await database_state(engine, schema)
    # Partition 1's tickets join partition 0's leading one; partition 0 keeps its order.
    assert effects == ["created t-1", "created t-3", "created t-4", "closed t-1", "created t-2"]
    assert inbox_rows == 5
