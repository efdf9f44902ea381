"""SIGKILL at the risky moment, in real processes: an outbox relay killed after Kafka
acknowledged a batch but before its rows were marked published, then a consumer runner
killed after its database commit (handler effects + inbox) but before its offset commit.

Each runs in a process of its own (:mod:`tests.support.crash_window_process`), frozen at
that point by a test-only hook and SIGKILLed there: no ``finally`` runs, no client closes
cleanly. After a restart, every event is applied exactly once, in order per key.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare_cli.lag import group_lag
from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.outbox.tables import outbox_table
from devkit.databases import kafka_bootstrap_servers
from tests.support.crash_window_process import applied_table
from tests.support.infra import (
    make_event,
    read_topic,
    unique_name,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = [f"ticket-{number}" for number in range(4)]
EVENTS_PER_KEY = 15
BATCH_SIZE = 10
# The relay freezes in its third batch: two batches are published and marked, the third is
# on Kafka but not marked, the other three wait in the outbox.
RELAY_PAUSE_AT = 3
# The consumer freezes before its second offset commit.
CONSUMER_PAUSE_AT = 2
WINDOW_SECONDS = 60.0


@pytest.fixture
async def schema(schema: str, engine: AsyncEngine) -> str:
    """The shared messaging schema, with this module's own table in it."""
    async with engine.begin() as connection:
        await connection.run_sync(applied_table(schema).create)
    return schema


class Component:
    """One relay or consumer process; its output goes to a log file for post-mortems."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    async def next_line(self, within: float = WINDOW_SECONDS) -> str:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout=within)
            if not line:
                raise AssertionError(f"the process ended early; see {self.log}")
            text = line.decode().rstrip("\n")
            if text in ("started",) or text.startswith("paused "):
                return text

    async def paused_at(self) -> dict[str, Any]:
        """Wait (at most :data:`WINDOW_SECONDS`) until the hook froze the process."""
        assert await self.next_line() == "started"
        line = await self.next_line()
        assert line.startswith("paused "), line
        where: dict[str, Any] = orjson.loads(line.removeprefix("paused "))
        return where

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL

    async def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(self.process.wait(), WINDOW_SECONDS) == 0


async def start(tmp_path: Path, *arguments: str) -> Component:
    log = tmp_path / f"{arguments[0]}-{secrets.token_hex(3)}.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.crash_window_process",
        *arguments,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
    )
    return Component(process, log)


async def write_outbox(engine: AsyncEngine, schema: str, topic: str) -> list[CloudEvent]:
    """Every key's events in sequence, interleaved across keys, committed before any relay."""
    events = [
        make_event(subject=key, data={"sequence": sequence})
        for sequence in range(1, EVENTS_PER_KEY + 1)
        for key in KEYS
    ]
    async with AsyncSession(engine) as session, session.begin():
        for event in events:
            await enqueue_event(session, event, schema=schema, topic=topic)
    return events


async def unpublished_ids(engine: AsyncEngine, schema: str) -> set[int]:
    outbox = outbox_table(MetaData(schema=schema))
    async with engine.connect() as connection:
        ids = await connection.scalars(select(outbox.c.id).where(outbox.c.published_at.is_(None)))
    return set(ids)


async def event_ids_of(engine: AsyncEngine, schema: str, outbox_ids: list[int]) -> set[str]:
    outbox = outbox_table(MetaData(schema=schema))
    async with engine.connect() as connection:
        ids = await connection.scalars(select(outbox.c.event_id).where(outbox.c.id.in_(outbox_ids)))
    return set(ids)


async def applied_rows(engine: AsyncEngine, schema: str) -> list[tuple[str, str, int]]:
    applied = applied_table(schema)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(applied.c.event_id, applied.c.subject, applied.c.sequence).order_by(applied.c.id)
        )
    return [(row.event_id, row.subject, row.sequence) for row in rows]


async def applied_count(engine: AsyncEngine, schema: str) -> int:
    applied = applied_table(schema)
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(applied)) or 0)


async def committed_offsets(group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (missing: none committed)."""
    lags = await group_lag(kafka_bootstrap_servers(), [group])
    return {
        lag.partition: lag.committed
        for lag in lags
        if lag.topic == topic and lag.committed is not None
    }


def first_copies_in_key_order(records: list[Any]) -> dict[str, list[int]]:
    """Per key, the sequences of each event's first copy on the topic, in topic order."""
    seen: set[str] = set()
    sequences: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = CloudEvent.from_json_bytes(record.value)
        assert record.key == event.subject.encode()
        if event.id not in seen:
            seen.add(event.id)
            sequences[event.subject].append(event.data["sequence"])
    return sequences


async def test_relay_and_consumer_killed_between_their_two_commits_lose_and_repeat_nothing(
    engine: AsyncEngine, schema: str, tmp_path: Path
) -> None:
    topic, group = unique_name("test.crashwin"), unique_name("group")
    events = await write_outbox(engine, schema, topic)
    every_sequence = list(range(1, EVENTS_PER_KEY + 1))

    # 1. The relay dies with a batch on Kafka whose rows are not marked published.
    relay = await start(tmp_path, "relay", schema, str(BATCH_SIZE), str(RELAY_PAUSE_AT))
    acknowledged: list[int] = (await relay.paused_at())["acknowledged_ids"]
    await relay.kill()
    assert len(acknowledged) == BATCH_SIZE
    still_unpublished = await unpublished_ids(engine, schema)
    assert set(acknowledged) <= still_unpublished, "Kafka has them, the outbox does not know"
    assert len(still_unpublished) == len(events) - (RELAY_PAUSE_AT - 1) * BATCH_SIZE
    on_kafka = await read_topic(
        kafka_bootstrap_servers(), topic, expected=RELAY_PAUSE_AT * BATCH_SIZE
    )
    acknowledged_events = await event_ids_of(engine, schema, acknowledged)
    assert acknowledged_events <= {orjson.loads(r.value)["id"] for r in on_kafka}

    # A fresh relay re-sends the unmarked batch (at least once) and drains the rest.
    relay = await start(tmp_path, "relay", schema, str(BATCH_SIZE), "0")
    assert await relay.next_line() == "started"

    async def outbox_drained() -> bool:
        return not await unpublished_ids(engine, schema)

    await wait_until(outbox_drained, within=WINDOW_SECONDS, message="the outbox to drain")
    await relay.terminate()
    records = await read_topic(kafka_bootstrap_servers(), topic, expected=len(events) + BATCH_SIZE)
    copies = Counter(orjson.loads(record.value)["id"] for record in records)
    assert set(copies) == {event.id for event in events}, "nothing lost"
    assert {event_id for event_id, n in copies.items() if n > 1} == acknowledged_events
    assert all(copies[event_id] == 2 for event_id in acknowledged_events)
    assert first_copies_in_key_order(records) == dict.fromkeys(KEYS, every_sequence)

    # 2. The consumer dies with a committed batch whose offsets are not committed.
    consumer = await start(tmp_path, "consumer", schema, topic, group, str(CONSUMER_PAUSE_AT))
    uncommitted: dict[str, int] = (await consumer.paused_at())["offsets"]
    await consumer.kill()
    applied_before = await applied_rows(engine, schema)
    assert applied_before, "the frozen batch's database commit happened"
    committed = await committed_offsets(group, topic)
    for partition, offset in uncommitted.items():
        assert committed.get(int(partition), 0) < offset, "its offset commit did not"

    consumer = await start(tmp_path, "consumer", schema, topic, group, "0")
    assert await consumer.next_line() == "started"

    ends: dict[int, int] = {}
    for record in records:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)

    async def group_caught_up() -> bool:
        return await committed_offsets(group, topic) == ends

    await wait_until(group_caught_up, within=WINDOW_SECONDS, message="the group to reach lag 0")
    await consumer.terminate()

    applied = await applied_rows(engine, schema)
    assert Counter(event_id for event_id, _, _ in applied) == {event.id: 1 for event in events}
    for key in KEYS:
        assert [seq for _, subject, seq in applied if subject == key] == every_sequence, key
    assert applied[: len(applied_before)] == applied_before
