"""The outbox relay against real Postgres and real Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pytest
from sqlalchemy import MetaData, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.outbox import OutboxRelay, enqueue_event
from aftercare_shared.outbox.leader import relay_lock_key
from aftercare_shared.outbox.tables import outbox_table
from devkit.databases import kafka_bootstrap_servers
from tests.support.infra import (
    create_messaging_schema,
    drop_messaging_schema,
    header_map,
    make_event,
    metric_value,
    read_topic,
    unique_name,
    wait_until,
)
from tests.support.kafka_broker import throwaway_kafka_broker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@contextlib.asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield
    finally:
        await asyncio.gather(*(relay.stop() for relay in relays))
        await asyncio.gather(*tasks)


def relay_for(engine: AsyncEngine, schema: str, **options: Any) -> OutboxRelay:
    settings: dict[str, Any] = {
        "poll_interval": 0.2,
        "batch_size": 50,
        "initial_backoff": 0.1,
        "max_backoff": 1.0,
        "bootstrap_servers": kafka_bootstrap_servers(),
        **options,
    }
    return OutboxRelay(engine=engine, schema=schema, **settings)


async def commit_events(
    engine: AsyncEngine, schema: str, topic: str, events: Sequence[CloudEvent]
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        for event in events:
            await enqueue_event(session, event, schema=schema, topic=topic)


def outbox_in(schema: str) -> Table:
    return outbox_table(MetaData(schema=schema))


async def unpublished_count(engine: AsyncEngine, schema: str) -> int:
    outbox = outbox_in(schema)
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    return int(count or 0)


def assert_each_once_in_key_order(records: list[Any], expected: list[CloudEvent]) -> None:
    """Every expected event exactly once; per key, the data's sequence numbers ascend."""
    received_ids = [orjson.loads(record.value)["id"] for record in records]
    assert sorted(received_ids) == sorted(event.id for event in expected), "lost or duplicated"
    sequences: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = CloudEvent.from_json_bytes(record.value)
        assert record.key == event.subject.encode()
        sequences[event.subject].append(event.data["sequence"])
    for key, numbers in sequences.items():
        assert numbers == sorted(numbers), f"key {key} out of order: {numbers}"


async def test_messaging_tables_migrate_up_down_up(engine: AsyncEngine) -> None:
    name = unique_name("migrate")
    await create_messaging_schema(engine, name)
    await drop_messaging_schema(engine, name)
    await create_messaging_schema(engine, name)
    try:
        async with engine.connect() as connection:
            tables = await connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                {"schema": name},
            )
            unpublished_index = await connection.scalar(
                text(
                    "SELECT indexdef FROM pg_indexes"
                    " WHERE schemaname = :schema AND indexname = 'ix_outbox_unpublished'"
                ),
                {"schema": name},
            )
        assert sorted(tables) == ["inbox", "outbox"]
        assert unpublished_index is not None
        assert unpublished_index.endswith("WHERE (published_at IS NULL)")
    finally:
        await drop_messaging_schema(engine, name)


async def test_a_lower_id_committed_late_is_published_not_skipped(
    engine: AsyncEngine, schema: str
) -> None:
    topic = unique_name("test.outbox.interleaved")
    early_id_event = make_event(subject="ticket-a", data={"sequence": 1})
    late_id_event = make_event(subject="ticket-b", data={"sequence": 1})
    # A long poll interval: publishing within the test's deadlines proves NOTIFY woke it.
    relay = relay_for(engine, schema, poll_interval=60)

    async with running(relay):
        async with AsyncSession(engine) as slow_transaction:
            await slow_transaction.begin()
            await enqueue_event(slow_transaction, early_id_event, schema=schema, topic=topic)
            outbox = outbox_in(schema)
            early_id = await slow_transaction.scalar(
                select(outbox.c.id).where(outbox.c.event_id == early_id_event.id)
            )

            await commit_events(engine, schema, topic, [late_id_event])
            await wait_until(
                lambda: _is_published(engine, schema, late_id_event.id),
                within=15,
                message="the later id to be published",
            )
            late_id = await _outbox_id(engine, schema, late_id_event.id)
            assert early_id is not None
            assert early_id < late_id

            await slow_transaction.commit()
        await wait_until(
            lambda: _is_published(engine, schema, early_id_event.id),
            within=15,
            message="the earlier id, committed last, to be published",
        )

    records = await read_topic(kafka_bootstrap_servers(), topic, expected=2)
    assert sorted(orjson.loads(r.value)["id"] for r in records) == sorted(
        [early_id_event.id, late_id_event.id]
    )
    published = next(r for r in records if orjson.loads(r.value)["id"] == early_id_event.id)
    assert published.value == early_id_event.to_json_bytes()
    assert header_map(published.headers) == {
        "content-type": "application/cloudevents+json",
        "traceparent": early_id_event.traceparent,
    }


async def _outbox_id(engine: AsyncEngine, schema: str, event_id: str) -> int:
    outbox = outbox_in(schema)
    async with engine.connect() as connection:
        outbox_id = await connection.scalar(
            select(outbox.c.id).where(outbox.c.event_id == event_id)
        )
    return int(outbox_id or 0)


async def _is_published(engine: AsyncEngine, schema: str, event_id: str) -> bool:
    outbox = outbox_in(schema)
    async with engine.connect() as connection:
        published_at = await connection.scalar(
            select(outbox.c.published_at).where(outbox.c.event_id == event_id)
        )
    return published_at is not None


async def write_key_histories(
    engine: AsyncEngine, schema: str, topic: str, keys: list[str], events_per_key: int
) -> list[CloudEvent]:
    """Commit each key's events in sequence, a few per transaction, keys shuffled."""
    chooser = random.Random(len(keys))
    written: list[CloudEvent] = []
    next_sequence = dict.fromkeys(keys, 1)
    while any(number <= events_per_key for number in next_sequence.values()):
        transaction: list[CloudEvent] = []
        for _ in range(chooser.randint(1, 5)):
            key = chooser.choice([k for k, n in next_sequence.items() if n <= events_per_key])
            transaction.append(make_event(subject=key, data={"sequence": next_sequence[key]}))
            next_sequence[key] += 1
            if all(number > events_per_key for number in next_sequence.values()):
                break
        await commit_events(engine, schema, topic, transaction)
        written.extend(transaction)
    return written


async def test_two_relays_publish_every_row_once_in_key_order(
    engine: AsyncEngine, schema: str
) -> None:
    topic = unique_name("test.outbox.replicas")
    service = unique_name("svc")
    relays = [relay_for(engine, schema, service=service) for _ in range(2)]

    async with running(*relays):
        # Four writers, each owning its keys, so each key's order is its commit order.
        histories = await asyncio.gather(
            *(
                write_key_histories(
                    engine, schema, topic, [f"w{writer}-k{key}" for key in range(3)], 40
                )
                for writer in range(4)
            )
        )
        await wait_until(
            lambda: _all_published(engine, schema), within=30, message="the outbox to drain"
        )

    written = [event for history in histories for event in history]
    assert len(written) == 480
    records = await read_topic(kafka_bootstrap_servers(), topic, expected=len(written))
    assert_each_once_in_key_order(records, written)
    assert metric_value("aftercare_outbox_published_total", service) == len(written)


async def _all_published(engine: AsyncEngine, schema: str) -> bool:
    return await unpublished_count(engine, schema) == 0


async def test_a_standby_takes_over_when_the_leaders_connection_dies(
    engine: AsyncEngine, schema: str
) -> None:
    topic = unique_name("test.outbox.takeover")
    relays = [relay_for(engine, schema) for _ in range(2)]
    first_wave = [make_event(subject="ticket-1", data={"sequence": n}) for n in range(1, 11)]
    second_wave = [make_event(subject="ticket-1", data={"sequence": n}) for n in range(11, 21)]

    async with running(*relays):
        await commit_events(engine, schema, topic, first_wave)
        await wait_until(lambda: _all_published(engine, schema), within=15, message="wave 1")

        leader_pid = await _advisory_lock_holder(engine, schema)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": leader_pid})
        await wait_until(
            lambda: _has_new_leader(engine, schema, leader_pid),
            within=15,
            message="a standby to take the lock",
        )

        await commit_events(engine, schema, topic, second_wave)
        await wait_until(lambda: _all_published(engine, schema), within=15, message="wave 2")

    records = await read_topic(kafka_bootstrap_servers(), topic, expected=20)
    assert_each_once_in_key_order(records, first_wave + second_wave)


async def _advisory_lock_holder(engine: AsyncEngine, schema: str) -> int | None:
    # pg_locks splits a bigint advisory key into two 32-bit halves.
    key = relay_lock_key(schema) & 0xFFFFFFFFFFFFFFFF
    async with engine.connect() as connection:
        pid = await connection.scalar(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
            ),
            {"high": key >> 32, "low": key & 0xFFFFFFFF},
        )
    return None if pid is None else int(pid)


async def _has_new_leader(engine: AsyncEngine, schema: str, old_pid: int | None) -> bool:
    holder = await _advisory_lock_holder(engine, schema)
    return holder is not None and holder != old_pid


@pytest.mark.own_kafka
@pytest.mark.timeout(180)  # two broker starts: slow on a busy CI machine
async def test_kafka_outage_keeps_rows_and_the_backlog_drains_in_order(
    engine: AsyncEngine, schema: str
) -> None:
    topic = unique_name("test.outbox.outage")
    keys = [f"ticket-{number}" for number in range(5)]
    next_sequence = dict.fromkeys(keys, 1)
    written: list[CloudEvent] = []

    async def write_one_transaction() -> None:
        key = keys[len(written) % len(keys)]
        event = make_event(subject=key, data={"sequence": next_sequence[key]})
        next_sequence[key] += 1
        await commit_events(engine, schema, topic, [event])
        written.append(event)

    async def write_while_kafka_is_down(seconds: float) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while loop.time() < until:
            await write_one_transaction()  # the API side keeps committing
            await asyncio.sleep(0.05)

    service = unique_name("svc")

    async def lag_is_reported() -> bool:
        return metric_value("aftercare_outbox_lag_seconds", service) > 0

    async with throwaway_kafka_broker(started=False) as broker:
        relay = relay_for(
            engine, schema, bootstrap_servers=broker.bootstrap_servers, service=service
        )
        async with running(relay):
            # Kafka is not up yet: the relay cannot even start a producer.
            await write_while_kafka_is_down(2)
            assert await unpublished_count(engine, schema) == len(written)
            await wait_until(lag_is_reported, within=5, message="the lag gauge to rise")

            await broker.start()
            await wait_until(lambda: _all_published(engine, schema), within=30, message="wave 1")

            # Kafka crashes under a relay that has a producer, then comes back.
            await broker.stop(crash=True)
            published_before = len(written)
            await write_while_kafka_is_down(3)
            assert await unpublished_count(engine, schema) == len(written) - published_before

            await broker.start()
            for _ in range(20):
                await write_one_transaction()
            await wait_until(lambda: _all_published(engine, schema), within=30, message="backlog")

        records = await read_topic(broker.bootstrap_servers, topic, expected=len(written))
    assert_each_once_in_key_order(records, written)
