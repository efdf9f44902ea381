"""The consumer runner against real Postgres and real Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from aftercare_shared.consumer import ConsumerRunner, EventHandlers, PermanentEventError
from aftercare_shared.events.catalog import TicketCreated
from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.events.factory import new_event
from aftercare_shared.observability.tracing import current_traceparent, parse_trace_id
from devkit.databases import kafka_bootstrap_servers
from tests.support.infra import (
    header_map,
    make_event,
    metric_value,
    read_topic,
    unique_name,
    wait_until,
)
from tests.support.kafka_broker import throwaway_kafka_broker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


class SimulatedCrashError(BaseException):
    """Kills the runner like a process crash would: nothing after it runs."""


class CrashBeforeOffsetCommit(ConsumerRunner):
    """Dies right after the database commit, before the Kafka offset commit (one record's
    or a whole batch's)."""

    async def _commit_offsets(self, offsets: Mapping[TopicPartition, int]) -> None:
        raise SimulatedCrashError


def ticket_created(subject: str, ticket_id: str) -> CloudEvent:
    payload = TicketCreated(
        ticket_id=ticket_id,
        client_id="c-1",
        title="Checkout fails",
        severity="high",
        priority="P2",
        status="new",
        fingerprint=f"fp-{ticket_id}",
        created_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    )
    return new_event(payload, service="intake", subject=subject, client_id="c-1")


def applied_table(schema: str) -> Table:
    """What the test handler writes: one row per applied event, in application order."""
    return Table(
        "applied",
        MetaData(schema=schema),
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("sequence", Integer, nullable=False),
    )


class Ledger:
    """The handler under test: appends one row per applied event; can refuse events."""

    def __init__(
        self,
        schema: str,
        *,
        poison_ids: Sequence[str] = (),
        hopeless_ids: Sequence[str] = (),
        work_seconds: float = 0.0,
    ) -> None:
        self.schema = schema
        self.poison_ids = set(poison_ids)
        self.hopeless_ids = set(hopeless_ids)
        self.work_seconds = work_seconds
        self.attempts: Counter[str] = Counter()
        self.trace_ids: dict[str, str | None] = {}

    async def handle(self, session: AsyncSession, event: CloudEvent) -> None:
        self.attempts[event.id] += 1
        self.trace_ids[event.id] = parse_trace_id(current_traceparent())
        if event.id in self.poison_ids:
            raise RuntimeError(f"cannot apply {event.id}")
        if event.id in self.hopeless_ids:
            raise PermanentEventError(f"{event.id} can never apply")
        await asyncio.sleep(self.work_seconds)
        await session.execute(
            insert(applied_table(self.schema)).values(
                event_id=event.id, subject=event.subject, sequence=event.data["sequence"]
            )
        )


@pytest.fixture
async def schema(schema: str, engine: AsyncEngine) -> str:
    """The shared messaging schema, with this module's own table in it."""
    async with engine.begin() as connection:
        await connection.run_sync(applied_table(schema).create)
    return schema


@pytest.fixture
async def producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap_servers(), acks="all", enable_idempotence=True
    )
    await producer.start()
    yield producer
    await producer.stop()


def runner_for(
    engine: AsyncEngine,
    schema: str,
    ledger: Ledger,
    *,
    runner_class: Any = ConsumerRunner,
    **options: Any,
) -> ConsumerRunner:
    return runner_with(engine, schema, ledger.handle, runner_class=runner_class, **options)


def registry_runner(
    engine: AsyncEngine, schema: str, handlers: EventHandlers, **options: Any
) -> ConsumerRunner:
    """A runner dispatching through an :class:`EventHandlers` registry (set-based handlers)."""
    return runner_with(engine, schema, handlers, **options)


def runner_with(
    engine: AsyncEngine,
    schema: str,
    handler: Any,
    *,
    runner_class: Any = ConsumerRunner,
    **options: Any,
) -> ConsumerRunner:
    settings: dict[str, Any] = {
        "service": unique_name("svc"),
        "max_attempts": 3,
        "retry_backoff": 0.05,
        "poll_timeout": 0.2,
        **options,
    }
    settings.setdefault("session_factory", async_sessionmaker(engine, expire_on_commit=False))
    runner: ConsumerRunner = runner_class(
        bootstrap_servers=kafka_bootstrap_servers(),
        schema=schema,
        handler=handler,
        **settings,
    )
    return runner


@contextlib.asynccontextmanager
async def running(runner: ConsumerRunner) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(runner.run())
    try:
        yield task
    finally:
        await runner.stop()
        await task


async def produce(
    producer: AIOKafkaProducer,
    topic: str,
    key: str,
    value: bytes,
    headers: list[tuple[str, bytes]] | None = None,
) -> Any:
    return await producer.send_and_wait(topic, value=value, key=key.encode(), headers=headers)


async def applied_counts(engine: AsyncEngine, schema: str) -> Counter[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(applied_table(schema).c.event_id))
    return Counter(row.event_id for row in rows)


async def is_applied(engine: AsyncEngine, schema: str, event_id: str) -> bool:
    return (await applied_counts(engine, schema))[event_id] > 0


async def test_a_duplicate_event_is_applied_once(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.dup"), unique_name("group")
    event = make_event(subject="ticket-1", data={"sequence": 1})
    sentinel = make_event(subject="ticket-1", data={"sequence": 2})
    for sent in (event, event, sentinel):
        await produce(producer, topic, "ticket-1", sent.to_json_bytes())
    ledger = Ledger(schema)
    runner = runner_for(engine, schema, ledger, group_id=group, topics=[topic])

    async with running(runner):
        await wait_until(lambda: is_applied(engine, schema, sentinel.id), within=30)

    assert await applied_counts(engine, schema) == {event.id: 1, sentinel.id: 1}
    assert ledger.attempts[event.id] == 1, "the second delivery must not reach the handler"
    assert ledger.trace_ids[event.id] == parse_trace_id(event.traceparent)
    service = runner.service
    assert metric_value("aftercare_consumer_duplicate_events_total", service, topic=topic) == 1
    assert metric_value("aftercare_consumer_events_processed_total", service, topic=topic) == 2


async def test_a_poison_record_is_dead_lettered_and_its_partition_moves_on(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.poison"), unique_name("group")
    dlq_topic = unique_name("test.consumer.dlq")
    poison = make_event(subject="ticket-9", data={"sequence": 1})
    healthy = make_event(subject="ticket-9", data={"sequence": 3})
    poison_headers = [("traceparent", (poison.traceparent or "").encode()), ("x-origin", b"t")]
    poison_sent = await produce(producer, topic, "ticket-9", poison.to_json_bytes(), poison_headers)
    garbage_sent = await produce(producer, topic, "ticket-9", b"this is not a cloudevent")
    hopeless = make_event(subject="ticket-9", data={"sequence": 2})
    await produce(producer, topic, "ticket-9", hopeless.to_json_bytes())
    healthy_sent = await produce(producer, topic, "ticket-9", healthy.to_json_bytes())
    assert poison_sent.partition == garbage_sent.partition == healthy_sent.partition
    ledger = Ledger(schema, poison_ids=[poison.id], hopeless_ids=[hopeless.id])
    runner = runner_for(engine, schema, ledger, group_id=group, topics=[topic], dlq_topic=dlq_topic)

    async with running(runner):
        await wait_until(lambda: is_applied(engine, schema, healthy.id), within=30)

    assert ledger.attempts[poison.id] == 3
    assert await applied_counts(engine, schema) == {healthy.id: 1}
    dead = sorted(
        await read_topic(kafka_bootstrap_servers(), dlq_topic, expected=3),
        key=lambda record: record.offset,
    )
    assert [record.value for record in dead] == [
        poison.to_json_bytes(),
        b"this is not a cloudevent",
        hopeless.to_json_bytes(),
    ]
    assert {record.key for record in dead} == {b"ticket-9"}
    assert header_map(dead[0].headers) == {
        "traceparent": poison.traceparent,
        "x-origin": "t",
        "dlq-error-class": "builtins.RuntimeError",
        "dlq-error-message": f"cannot apply {poison.id}",
        "dlq-attempts": "3",
        "dlq-source-topic": topic,
        "dlq-source-partition": str(poison_sent.partition),
        "dlq-source-offset": str(poison_sent.offset),
        "dlq-service": runner.service,
        "dlq-consumer-group": group,
    }
    garbage_headers = header_map(dead[1].headers)
    assert garbage_headers["dlq-error-class"] == "aftercare_shared.events.envelope.EventDecodeError"
    assert garbage_headers["dlq-attempts"] == "1", "undecodable records are not retried"
    assert garbage_headers["dlq-source-offset"] == str(garbage_sent.offset)
    assert ledger.attempts[hopeless.id] == 1, "a PermanentEventError is not retried"
    assert header_map(dead[2].headers)["dlq-attempts"] == "1"
    dead_lettered = metric_value(
        "aftercare_consumer_dead_lettered_total", runner.service, topic=topic
    )
    assert dead_lettered == 3
    assert await committed_offset(group, topic, healthy_sent.partition) == healthy_sent.offset + 1


async def committed_offset(group: str, topic: str, partition: int) -> int | None:
    inspector = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers(), group_id=group)
    await inspector.start()
    try:
        offset: int | None = await inspector.committed(TopicPartition(topic, partition))
        return offset
    finally:
        await inspector.stop()


async def test_a_crash_between_db_commit_and_offset_commit_redelivers_without_double_effect(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.crash"), unique_name("group")
    event = make_event(subject="ticket-5", data={"sequence": 1})
    sentinel = make_event(subject="ticket-5", data={"sequence": 2})
    await produce(producer, topic, "ticket-5", event.to_json_bytes())
    ledger = Ledger(schema)
    service = unique_name("svc")

    crashing = runner_for(
        engine,
        schema,
        ledger,
        runner_class=CrashBeforeOffsetCommit,
        service=service,
        group_id=group,
        topics=[topic],
    )
    with pytest.raises(SimulatedCrashError):
        await asyncio.wait_for(crashing.run(), 30)
    assert await applied_counts(engine, schema) == {event.id: 1}

    await produce(producer, topic, "ticket-5", sentinel.to_json_bytes())
    restarted = runner_for(engine, schema, ledger, service=service, group_id=group, topics=[topic])
    async with running(restarted):
        await wait_until(lambda: is_applied(engine, schema, sentinel.id), within=30)

    assert await applied_counts(engine, schema) == {event.id: 1, sentinel.id: 1}
    assert ledger.attempts[event.id] == 1, "the redelivery must be skipped by the inbox"
    assert metric_value("aftercare_consumer_duplicate_events_total", service, topic=topic) == 1


async def applied_in_order(engine: AsyncEngine, schema: str) -> list[tuple[str, int]]:
    async with engine.connect() as connection:
        applied = applied_table(schema)
        rows = await connection.execute(
            select(applied.c.subject, applied.c.sequence).order_by(applied.c.id)
        )
    return [(row.subject, row.sequence) for row in rows]


async def test_members_joining_and_leaving_apply_every_event_once_in_key_order(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.rebalance"), unique_name("group")
    keys = [f"ticket-{number}" for number in range(6)]
    events = [
        make_event(subject=key, data={"sequence": sequence})
        for sequence in range(1, 31)
        for key in keys
    ]
    ledger = Ledger(schema, work_seconds=0.01)
    fast_heartbeats = {"heartbeat_interval_ms": 300, "session_timeout_ms": 6000}

    def member() -> ConsumerRunner:
        return runner_for(
            engine, schema, ledger, group_id=group, topics=[topic], consumer_options=fast_heartbeats
        )

    async def applied_at_least(count: int) -> bool:
        return len(await applied_in_order(engine, schema)) >= count

    first, second = member(), member()
    async with running(first):
        for event in events[:90]:
            await produce(producer, topic, event.subject, event.to_json_bytes())
        await wait_until(lambda: applied_at_least(20), within=30, message="first member to start")
        async with running(second):
            for event in events[90:]:
                await produce(producer, topic, event.subject, event.to_json_bytes())
            await wait_until(lambda: applied_at_least(100), within=30, message="two members")
            await first.stop()  # leaves mid-stream: its partitions move to the second
            await wait_until(lambda: applied_at_least(len(events)), within=30, message="the rest")

    applied = await applied_in_order(engine, schema)
    assert sorted(applied) == sorted((event.subject, event.data["sequence"]) for event in events)
    for key in keys:
        sequences = [sequence for subject, sequence in applied if subject == key]
        assert sequences == sorted(sequences), f"{key} applied out of order"


async def test_a_database_outage_neither_dead_letters_nor_skips_the_record(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.dbdown"), unique_name("group")
    event = make_event(subject="ticket-3", data={"sequence": 1})
    await produce(producer, topic, "ticket-3", event.to_json_bytes())
    ledger = Ledger(schema)
    unreachable = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    unreachable_sessions = async_sessionmaker(unreachable)
    session_requests = 0

    def counting_sessions() -> AsyncSession:
        nonlocal session_requests
        session_requests += 1
        return unreachable_sessions()

    async def retried_past_max_attempts() -> bool:
        return session_requests > 6

    cut_off = runner_for(
        engine,
        schema,
        ledger,
        group_id=group,
        topics=[topic],
        max_attempts=3,
        session_factory=counting_sessions,
    )
    async with running(cut_off):
        await wait_until(retried_past_max_attempts, within=30, message="retries")
    await unreachable.dispose()
    dead_lettered = metric_value(
        "aftercare_consumer_dead_lettered_total", cut_off.service, topic=topic
    )
    assert dead_lettered == 0
    assert ledger.attempts[event.id] == 0

    recovered = runner_for(engine, schema, ledger, group_id=group, topics=[topic])
    async with running(recovered):
        await wait_until(lambda: is_applied(engine, schema, event.id), within=30)
    assert ledger.attempts[event.id] == 1


async def _produce_one_batch(
    producer: AIOKafkaProducer, topic: str, key: str, events: Sequence[CloudEvent]
) -> list[Any]:
    """Produce before the runner starts, so its first poll fetches them all together."""
    sent = [await produce(producer, topic, key, event.to_json_bytes()) for event in events]
    assert len({record.partition for record in sent}) == 1
    return sent


async def test_a_poison_record_inside_a_batch_goes_to_the_dlq_alone_and_its_neighbours_apply_once(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.batchpoison"), unique_name("group")
    dlq_topic = unique_name("test.consumer.dlq")
    events = [make_event(subject="ticket-7", data={"sequence": n}) for n in range(1, 8)]
    poison = events[3]
    sent = await _produce_one_batch(producer, topic, "ticket-7", events)
    ledger = Ledger(schema, poison_ids=[poison.id])
    runner = runner_for(engine, schema, ledger, group_id=group, topics=[topic], dlq_topic=dlq_topic)

    async with running(runner):
        await wait_until(lambda: is_applied(engine, schema, events[-1].id), within=30)

    healthy = [event for event in events if event is not poison]
    assert await applied_counts(engine, schema) == {event.id: 1 for event in healthy}
    assert await applied_in_order(engine, schema) == [
        ("ticket-7", event.data["sequence"]) for event in healthy
    ]
    assert ledger.attempts[poison.id] == 3, "the batch's try counts as the first attempt"
    (dead,) = await read_topic(kafka_bootstrap_servers(), dlq_topic, expected=1)
    assert dead.value == poison.to_json_bytes()
    assert header_map(dead.headers)["dlq-attempts"] == "3"
    assert header_map(dead.headers)["dlq-source-offset"] == str(sent[3].offset)
    assert await committed_offset(group, topic, sent[-1].partition) == sent[-1].offset + 1


async def test_a_crash_after_a_batch_commit_redelivers_the_whole_batch_without_double_effects(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.batchcrash"), unique_name("group")
    batch = [make_event(subject="ticket-8", data={"sequence": n}) for n in range(1, 21)]
    await _produce_one_batch(producer, topic, "ticket-8", batch)
    ledger = Ledger(schema)
    service = unique_name("svc")
    crashing = runner_for(
        engine,
        schema,
        ledger,
        runner_class=CrashBeforeOffsetCommit,
        service=service,
        group_id=group,
        topics=[topic],
    )
    with pytest.raises(SimulatedCrashError):
        await asyncio.wait_for(crashing.run(), 30)
    committed_first = await applied_counts(engine, schema)
    assert committed_first, "the crash came after a database commit"
    assert set(committed_first.values()) == {1}
    assert len(committed_first) > 1, "one transaction applied several records"

    sentinel = make_event(subject="ticket-8", data={"sequence": 99})
    await produce(producer, topic, "ticket-8", sentinel.to_json_bytes())
    restarted = runner_for(engine, schema, ledger, service=service, group_id=group, topics=[topic])
    async with running(restarted):
        await wait_until(lambda: is_applied(engine, schema, sentinel.id), within=30)

    assert await applied_counts(engine, schema) == {e.id: 1 for e in [*batch, sentinel]}
    assert all(ledger.attempts[event.id] == 1 for event in batch), "the inbox skipped them"
    duplicates = metric_value("aftercare_consumer_duplicate_events_total", service, topic=topic)
    assert duplicates == len(committed_first), "every record of the first batch came again"


async def test_a_poison_record_inside_a_set_based_run_goes_to_the_dlq_alone(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.setpoison"), unique_name("group")
    dlq_topic = unique_name("test.consumer.dlq")
    events = [ticket_created("ticket-10", f"t-{n}") for n in range(1, 7)]
    sent = await _produce_one_batch(producer, topic, "ticket-10", events)
    run_sizes: list[int] = []
    handlers = EventHandlers()

    @handlers.on_many(TicketCreated)
    async def created(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
        run_sizes.append(len(tickets))
        if any(ticket.ticket_id == "t-4" for ticket in tickets):
            raise RuntimeError("cannot apply t-4")
        rows = [
            {"event_id": t.ticket_id, "subject": "ticket-10", "sequence": int(t.ticket_id[2:])}
            for t in tickets
        ]
        await session.execute(insert(applied_table(schema)), rows)

    runner = registry_runner(
        engine, schema, handlers, group_id=group, topics=[topic], dlq_topic=dlq_topic
    )
    async with running(runner):
        await wait_until(lambda: is_applied(engine, schema, "t-6"), within=30)

    assert max(run_sizes) > 1, "a run of the batch went to the handler in one call"
    assert await applied_counts(engine, schema) == {f"t-{n}": 1 for n in (1, 2, 3, 5, 6)}
    assert await applied_in_order(engine, schema) == [("ticket-10", n) for n in (1, 2, 3, 5, 6)]
    (dead,) = await read_topic(kafka_bootstrap_servers(), dlq_topic, expected=1)
    assert dead.value == events[3].to_json_bytes()
    assert header_map(dead.headers)["dlq-attempts"] == "3"
    assert await committed_offset(group, topic, sent[-1].partition) == sent[-1].offset + 1


async def test_records_arriving_during_a_linger_are_applied_in_one_batch(
    engine: AsyncEngine, schema: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_name("test.consumer.linger"), unique_name("group")
    run_sizes: list[int] = []
    handlers = EventHandlers()

    @handlers.on_many(TicketCreated)
    async def created(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
        run_sizes.append(len(tickets))
        rows = [{"event_id": t.ticket_id, "subject": "ticket-11", "sequence": 0} for t in tickets]
        await session.execute(insert(applied_table(schema)), rows)

    runner = registry_runner(engine, schema, handlers, group_id=group, topics=[topic], linger=1.5)
    await produce(producer, topic, "ticket-11", ticket_created("ticket-11", "t-0").to_json_bytes())
    async with running(runner):
        await wait_until(lambda: is_applied(engine, schema, "t-0"), within=30)
        run_sizes.clear()  # the group has joined and polls: now one record at a time
        for n in range(1, 6):
            event = ticket_created("ticket-11", f"t-{n}")
            await produce(producer, topic, "ticket-11", event.to_json_bytes())
            await asyncio.sleep(0.1)
        await wait_until(lambda: is_applied(engine, schema, "t-5"), within=30)

    assert run_sizes == [5], "what arrived within the linger after the first record came along"
    assert await applied_counts(engine, schema) == {f"t-{n}": 1 for n in range(6)}


async def test_a_runner_told_to_stop_after_kafka_died_returns_within_its_bounds(
    engine: AsyncEngine, schema: str
) -> None:
    """A service stopped during a Kafka outage (SIGTERM, a rolling deploy) must exit: the
    consumer cannot leave a group no broker hosts, so its close is bounded instead of
    waited on for ever (before: stop() never returned)."""
    topic, group = unique_name("test.consumer.gone"), unique_name("group")
    async with throwaway_kafka_broker() as broker:
        runner = ConsumerRunner(
            service=unique_name("svc"),
            group_id=group,
            topics=[topic],
            bootstrap_servers=broker.bootstrap_servers,
            session_factory=async_sessionmaker(engine, expire_on_commit=False),
            schema=schema,
            handler=Ledger(schema).handle,
            poll_timeout=0.2,
            shutdown_grace=2.0,
        )
        task = asyncio.create_task(runner.run())
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        event = make_event(subject="ticket-1", data={"sequence": 1})
        try:
            await produce(producer, topic, "ticket-1", event.to_json_bytes())
        finally:
            await producer.stop()
        # Applied: the consumer is a member of its group, its producer (the DLQ's) is up.
        await wait_until(lambda: is_applied(engine, schema, event.id), within=30)
        await broker.stop(crash=True)

        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(runner.stop(), 30)
        with contextlib.suppress(asyncio.CancelledError):  # cancelled once past its grace
            await asyncio.wait_for(task, 5)
        # The grace (2 s) and one bounded close per client (5 s each) at most.
        assert loop.time() - started < 2 + 2 * 5 + 3
