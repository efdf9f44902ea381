"""Put an event in the outbox, inside the transaction that changes the state it describes."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import MetaData, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.events.envelope import STRUCTURED_CONTENT_TYPE, CloudEvent
from aftercare_shared.outbox import wake
from aftercare_shared.outbox.tables import outbox_notify_channel, outbox_table
from aftercare_shared.topics import topic_for_event_type


@lru_cache(maxsize=64)
def _outbox_in(schema: str) -> Table:
    return outbox_table(MetaData(schema=schema))


def record_headers(event: CloudEvent) -> dict[str, str]:
    """Kafka headers for ``event``: structured-mode content type plus the trace context."""
    headers = {"content-type": STRUCTURED_CONTENT_TYPE}
    if event.traceparent:
        headers["traceparent"] = event.traceparent
    return headers


async def enqueue_event(
    session: AsyncSession, event: CloudEvent, *, schema: str, topic: str | None = None
) -> None:
    """Add ``event`` to ``schema``'s outbox in the caller's transaction; never commits.

    The record goes to ``topic`` (default: the topic of the event type) keyed by the
    event's subject, so all events of one aggregate keep their order. The relay is woken
    when the transaction commits: in process when this process's relay leads, else by a
    NOTIFY that Postgres delivers at commit (:mod:`aftercare_shared.outbox.wake`).
    """
    outbox = _outbox_in(schema)
    queued = insert(outbox).values(
        event_id=event.id,
        topic=topic or topic_for_event_type(event.type),
        record_key=event.subject,
        payload=event.to_json_bytes(),
        headers=record_headers(event),
    )
    if wake.notify_needed(schema):
        # Still one round trip: the insert runs as a CTE and the NOTIFY is selected from it.
        cte = queued.returning(outbox.c.id).cte("queued")
        await session.execute(
            select(func.pg_notify(outbox_notify_channel(schema), "")).select_from(cte)
        )
    else:
        await session.execute(queued)
    wake.wake_after_commit(session, schema)


async def enqueue_events(
    session: AsyncSession, events: Sequence[CloudEvent], *, schema: str
) -> None:
    """:func:`enqueue_event` for many events: one batched INSERT (and one NOTIFY when
    needed), so a timer round announcing hundreds of events does not pay a round trip per
    event.

    Passed as executemany parameters, the INSERT is compiled once and cached (a ``values()``
    list would be compiled anew for every row count, which cost more than it saved) and
    asyncpg sends all rows of the one prepared statement together, in ``events`` order.
    """
    if not events:
        return
    outbox = _outbox_in(schema)
    await session.execute(
        insert(outbox),
        [
            {
                "event_id": event.id,
                "topic": topic_for_event_type(event.type),
                "record_key": event.subject,
                "payload": event.to_json_bytes(),
                "headers": record_headers(event),
            }
            for event in events
        ],
    )
    if wake.notify_needed(schema):
        await session.execute(select(func.pg_notify(outbox_notify_channel(schema), "")))
    wake.wake_after_commit(session, schema)
