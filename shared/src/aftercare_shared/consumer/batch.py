"""The consumer's fast path: a whole polled batch applied in one transaction.

Why it exists: applied one at a time, every record costs a transaction (BEGIN, inbox
insert, COMMIT) and an offset commit to Kafka, more than most handlers cost themselves
once events arrive by the hundred (``make bench``'s consumer batches figures). Here the
inbox rows of the whole batch go in with one statement (ids already there are
duplicates, skipped), the handlers run in offset order in that one transaction, and the
runner commits each partition's offset once afterwards.

It does per record exactly what :func:`~aftercare_shared.consumer.processing.apply_once`
does (the same inbox de-duplication, the same handler in the same kind of transaction)
and nothing more: no retries, no dead letters. Any failure rolls the whole batch back
and raises :class:`BatchFailedError`; the runner then applies the records one by one
through ``apply_once``, the path that owns retries and the DLQ.

Handlers of an :class:`~aftercare_shared.consumer.handlers.EventHandlers` registry that
take sets (``on_many``) get each run of consecutive events of their type in one call,
gathered from every partition of the batch (each in its offset order).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from sqlalchemy import ARRAY, Table, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

from aftercare_shared.consumer.handlers import EventHandlers
from aftercare_shared.consumer.processing import EventHandler
from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.observability.tracing import bind_traceparent, clear_trace


class Record(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` the consumer reads (aiokafka is untyped)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A record and the CloudEvent decoded from it."""

    record: Record
    event: CloudEvent


@dataclass(slots=True)
class BatchOutcome:
    """What a committed batch did: records applied, and records the inbox skipped."""

    applied: list[Record] = field(default_factory=list)
    duplicates: list[Record] = field(default_factory=list)


class BatchFailedError(Exception):
    """The batch was rolled back, nothing of it is in the database.

    ``blamed`` is the record whose handler raised when one record alone was being applied
    (its try counts as that record's first attempt); None when the failure is no single
    record's (the inbox insert, the commit, or a run of several events handled together).
    """

    def __init__(self, error: Exception, blamed: Record | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.blamed = blamed


async def apply_batch(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    inbox: Table,
    consumer: str,
    deliveries: Sequence[Delivery],
    handler: EventHandler,
) -> BatchOutcome:
    """Apply ``deliveries`` (in offset order per partition) in one transaction."""
    outcome = BatchOutcome()
    blamed: Record | None = None
    try:
        async with session_factory() as session, session.begin():
            first_seen = await _insert_inbox_rows(
                session, inbox, consumer, [d.event.id for d in deliveries]
            )
            fresh: list[Delivery] = []
            for delivery in deliveries:
                if delivery.event.id in first_seen:
                    first_seen.discard(delivery.event.id)  # a second copy here is a duplicate
                    fresh.append(delivery)
                else:
                    outcome.duplicates.append(delivery.record)
            for run in _runs(fresh, handler):
                if len(run) == 1:
                    blamed = run[0].record
                    await _apply_one(session, run[0], handler)
                else:
                    blamed = None
                    assert isinstance(handler, EventHandlers)
                    await _apply_run(session, run, handler)
                outcome.applied.extend(delivery.record for delivery in run)
            blamed = None  # a failing commit is no single record's fault
    except Exception as error:
        raise BatchFailedError(error, blamed) from error
    return outcome


async def _apply_one(session: AsyncSession, delivery: Delivery, handler: EventHandler) -> None:
    """Run ``handler`` for one event with the record's log fields and the event's trace."""
    record, event = delivery.record, delivery.event
    # Logs and any events the handler emits continue the producer's trace.
    bind_traceparent(event.traceparent)
    try:
        with structlog.contextvars.bound_contextvars(
            kafka_topic=record.topic,
            kafka_partition=record.partition,
            kafka_offset=record.offset,
            event_id=event.id,
            event_type=event.type,
        ):
            await handler(session, event)
    finally:
        clear_trace()


async def _apply_run(
    session: AsyncSession, run: Sequence[Delivery], handlers: EventHandlers
) -> None:
    # Several producers' traces: the set-based handler continues none of them. A run may
    # span partitions: each one's offsets, first to last.
    offsets: dict[str, list[int]] = {}
    for delivery in run:
        record = delivery.record
        offsets.setdefault(f"{record.topic}/{record.partition}", []).append(record.offset)
    with structlog.contextvars.bound_contextvars(
        kafka_offsets={part: f"{seen[0]}-{seen[-1]}" for part, seen in offsets.items()},
        event_type=run[0].event.type,
        events=len(run),
    ):
        await handlers.apply_run(session, [delivery.event for delivery in run])


async def _insert_inbox_rows(
    session: AsyncSession, inbox: Table, consumer: str, event_ids: list[str]
) -> set[str]:
    """Insert the batch's inbox rows in one statement; return the ids seen for the first time."""
    inserted = await session.execute(
        _inbox_insert(inbox),
        {"consumer": consumer, "event_ids": list(dict.fromkeys(event_ids))},
    )
    return set(inserted.scalars())


@functools.cache
def _inbox_insert(inbox: Table) -> ReturningInsert[str]:
    """The inbox insert of a batch, built once per inbox table.

    The ids travel as one array parameter, so the SQL is the same for every batch size
    (compiled and prepared once, where a VALUES list would be per row count); built once,
    the statement costs no construction and cache-key walk per batch either.
    """
    ids = func.unnest(bindparam("event_ids", type_=ARRAY(Text)))
    consumer = bindparam("consumer", type_=Text)
    return (
        insert(inbox)
        .from_select(["consumer", "event_id"], select(consumer, ids))
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )


def _runs(deliveries: Sequence[Delivery], handler: EventHandler) -> list[list[Delivery]]:
    """The order to apply ``deliveries`` in: runs a set-based handler takes together, others alone.

    A run gathers the leading events of one type from every partition's queue, so a
    batch spread over many partitions (a steady stream: a few events each) still makes
    one run per type instead of one per partition. Each partition keeps its offset order;
    events of different partitions have no order between them (Kafka gives none: the
    record-by-record path takes partitions one after another, the group could have split
    them between two consumers), so running them side by side changes no outcome.
    """
    if not isinstance(handler, EventHandlers):
        return [[delivery] for delivery in deliveries]
    queues: dict[tuple[str, int], deque[Delivery]] = {}
    for delivery in deliveries:
        partition = (delivery.record.topic, delivery.record.partition)
        queues.setdefault(partition, deque()).append(delivery)
    runs: list[list[Delivery]] = []
    while queues:
        head = next(iter(queues.values())).popleft()
        run = [head]
        run_type = handler.run_type(head.event)
        if run_type is not None:
            for queue in queues.values():
                while queue and handler.run_type(queue[0].event) == run_type:
                    run.append(queue.popleft())
        runs.append(run)
        queues = {partition: queue for partition, queue in queues.items() if queue}
    return runs
