"""Consumer batches: events the platform's consumer runner applies per second, and its CPU.

The same events (``ticket.created``, over three partitions) are consumed three times in
one run, each time by a fresh consumer group into a fresh schema: one record per
transaction (``AFTERCARE_CONSUMER_MAX_BATCH_RECORDS=1``, the path every record took
before batching), a polled batch per transaction with a per-event handler (the default,
100), and the same with the handler's set-based form (``EventHandlers.on_many``). The
handler is a typical read-model upsert. Timed from the first applied record to the last
(the group join is not counted); CPU is this process's (the runner, its Kafka client and
a count query every 50 ms). Every run must apply every event.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, DateTime, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from aftercare_shared.consumer import ConsumerRunner, EventHandlers
from aftercare_shared.db import create_session_factory
from aftercare_shared.events.catalog import TicketCreated
from aftercare_shared.events.factory import new_event
from aftercare_shared.outbox.tables import inbox_table
from aftercare_shared.topics import ensure_topics
from bench.report import TableRow, number, ratio_text
from devkit.databases import create_database, drop_database, kafka_bootstrap_servers
from tests.support.infra import create_messaging_schema

PARTITIONS = 3
BATCHED_RECORDS = 100  # the setting's default
POLL_SECONDS = 0.05
RUN_TIMEOUT_SECONDS = 600.0
CREATED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    max_batch_records: int
    set_based: bool


MODES = (
    Mode("record by record", 1, set_based=False),
    Mode("batched", BATCHED_RECORDS, set_based=False),
    Mode("batched, set-based handler", BATCHED_RECORDS, set_based=True),
)


@dataclass(frozen=True, slots=True)
class ConsumerRun:
    mode: Mode
    records: int
    """Records applied between the first applied record and the last."""
    seconds: float
    cpu_seconds: float
    all_applied: bool
    """Every event is in the read model and in the inbox (whose key makes it once)."""

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_record(self) -> float:
        return self.cpu_seconds * 1000 / self.records if self.records else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.name,
            "max_batch_records": self.mode.max_batch_records,
            "set_based_handler": self.mode.set_based,
            "records_timed": self.records,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "cpu_ms_per_record": round(self.cpu_ms_per_record, 3),
            "all_applied": self.all_applied,
        }


@dataclass(frozen=True, slots=True)
class ConsumerBatchResults:
    events: int
    partitions: int
    runs: list[ConsumerRun]

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "partitions": self.partitions,
            "runs": [run.as_json() for run in self.runs],
        }


def _read_model(schema: str) -> Table:
    return Table(
        "ticket_view",
        MetaData(schema=schema),
        Column("ticket_id", Text, primary_key=True),
        Column("client_id", Text, nullable=False),
        Column("title", Text, nullable=False),
        Column("priority", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


def _handlers(schema: str, *, set_based: bool) -> EventHandlers:
    view = _read_model(schema)
    upsert = insert(view)
    upsert = upsert.on_conflict_do_update(
        index_elements=[view.c.ticket_id],
        set_={"title": upsert.excluded.title, "priority": upsert.excluded.priority},
    )

    def row(ticket: TicketCreated) -> dict[str, Any]:
        return {
            "ticket_id": ticket.ticket_id,
            "client_id": ticket.client_id,
            "title": ticket.title,
            "priority": ticket.priority,
            "created_at": ticket.created_at,
        }

    handlers = EventHandlers()
    if set_based:

        @handlers.on_many(TicketCreated)
        async def created_many(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
            # executemany: rows applied in list order, as one call per event would.
            await session.execute(upsert, [row(ticket) for ticket in tickets])

    else:

        @handlers.on(TicketCreated)
        async def created(session: AsyncSession, ticket: TicketCreated) -> None:
            await session.execute(upsert, row(ticket))

    return handlers


async def _produce(topic: str, events: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap_servers(), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sends = []
        for index in range(events):
            ticket = f"bench-{index}"
            payload = TicketCreated(
                ticket_id=ticket,
                client_id=f"client-{index % 20}",
                title=f"Checkout fails ({index})",
                severity="high",
                priority="P2",
                status="new",
                fingerprint=f"fp-{index}",
                created_at=CREATED_AT,
            )
            event = new_event(payload, service="intake", subject=ticket, client_id="client")
            sends.append(
                await producer.send(topic, value=event.to_json_bytes(), key=ticket.encode())
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def _wait_for(
    engine: AsyncEngine, inbox: Table, at_least: int, task: asyncio.Task[None]
) -> int:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while (count := await _count(engine, inbox)) < at_least:
        if task.done():
            task.result()  # the runner died: say why
            raise RuntimeError("the consumer stopped before applying every event")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} of {at_least} events applied in {RUN_TIMEOUT_SECONDS} s")
        await asyncio.sleep(POLL_SECONDS)
    return count


async def _consume(engine: AsyncEngine, topic: str, mode: Mode, events: int) -> ConsumerRun:
    schema = f"bench_consumer_{secrets.token_hex(4)}"
    await create_messaging_schema(engine, schema)
    async with engine.begin() as connection:
        await connection.run_sync(_read_model(schema).create)
    inbox = inbox_table(MetaData(schema=schema))
    runner = ConsumerRunner(
        service="bench",
        group_id=f"bench-consumer-{secrets.token_hex(4)}",
        topics=[topic],
        bootstrap_servers=kafka_bootstrap_servers(),
        session_factory=create_session_factory(engine),
        schema=schema,
        handler=_handlers(schema, set_based=mode.set_based),
        max_batch_records=mode.max_batch_records,
    )
    print(f"bench: consumer batches: {mode.name}…")
    task = asyncio.create_task(runner.run())
    try:
        first = await _wait_for(engine, inbox, 1, task)
        started, cpu_started = time.perf_counter(), time.process_time()
        await _wait_for(engine, inbox, events, task)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    finally:
        await runner.stop()
        await task
    applied = await _count(engine, _read_model(schema))
    return ConsumerRun(
        mode=mode,
        records=events - first,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        all_applied=applied == events and await _count(engine, inbox) == events,
    )


async def measure_consumer_batches(*, events: int) -> ConsumerBatchResults:
    url = await create_database("benchconsumer")
    engine = create_async_engine(url, pool_size=4)
    topic = f"bench.consumer.{secrets.token_hex(4)}"
    try:
        await ensure_topics(
            kafka_bootstrap_servers(), partitions=PARTITIONS, replication_factor=1, topics=(topic,)
        )
        await _produce(topic, events)
        runs = [await _consume(engine, topic, mode, events) for mode in MODES]
    finally:
        await engine.dispose()
        await drop_database(url)
    return ConsumerBatchResults(events=events, partitions=PARTITIONS, runs=runs)


def consumer_batch_rows(results: ConsumerBatchResults) -> list[TableRow]:
    name = "14 consumer batches"
    one_by_one = results.runs[0]
    rows: list[TableRow] = []
    for run in results.runs:
        compared = run is not one_by_one
        shape = f"{run.mode.name}, {results.events} events over {results.partitions} partitions"
        if not run.all_applied:
            shape += ", NOT every event applied"
        rows.append(
            TableRow(
                name,
                f"records/s applied ({shape})",
                number(run.records_per_second),
                one_by_one.mode.name if compared else "",
                number(one_by_one.records_per_second) if compared else "",
                ratio_text(run.records_per_second / one_by_one.records_per_second)
                if compared and one_by_one.records_per_second
                else "",
            )
        )
        rows.append(
            TableRow(
                name,
                f"consumer CPU ms per record ({run.mode.name})",
                number(run.cpu_ms_per_record, 3),
                one_by_one.mode.name if compared else "",
                number(one_by_one.cpu_ms_per_record, 3) if compared else "",
                ratio_text(run.cpu_ms_per_record / one_by_one.cpu_ms_per_record)
                if compared and one_by_one.cpu_ms_per_record
                else "",
            )
        )
    return rows
