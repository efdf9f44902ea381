"""Waking the relay on commit (real Postgres, real Kafka): in process when this process's
relay leads — no NOTIFY sent at all — and by NOTIFY when the leader runs elsewhere (sent
after the commit by this process's standby relay, else in the transaction).

Every relay here polls only once a minute, so a row published within the test's windows
was published because the commit woke the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.outbox import OutboxRelay, enqueue_event, outbox_notify_channel, wake
from aftercare_shared.outbox.enqueue import record_headers
from aftercare_shared.outbox.leader import relay_lock_key
from aftercare_shared.outbox.tables import outbox_table
from devkit.databases import kafka_bootstrap_servers
from tests.support.infra import (
    make_event,
    unique_name,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SLOW_POLL_SECONDS = 60.0
WINDOW_SECONDS = 20.0


def slow_polling_relay(engine: AsyncEngine, schema: str) -> OutboxRelay:
    return OutboxRelay(
        engine=engine,
        schema=schema,
        bootstrap_servers=kafka_bootstrap_servers(),
        poll_interval=SLOW_POLL_SECONDS,
    )


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        await relay.stop()
        await task


@contextlib.asynccontextmanager
async def listening(engine: AsyncEngine, schema: str) -> AsyncIterator[list[str]]:
    """Every payload NOTIFYed on ``schema``'s outbox channel while inside, in order."""
    received: list[str] = []

    def on_notify(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        received.append(payload)

    channel = outbox_notify_channel(schema)
    async with engine.connect() as connection:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        await driver.add_listener(channel, on_notify)
        try:
            yield received
        finally:
            await driver.remove_listener(channel, on_notify)


async def notify_marker(engine: AsyncEngine, schema: str, marker: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            select(text("pg_notify(:channel, :marker)")),
            {"channel": outbox_notify_channel(schema), "marker": marker},
        )


# One topic for the whole module: creating a topic costs Kafka a second or two.
TOPIC = unique_name("test.outbox.wake")


async def commit_with_session(engine: AsyncEngine, schema: str, event: CloudEvent) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await enqueue_event(session, event, schema=schema, topic=TOPIC)


async def commit_inside_a_savepoint(engine: AsyncEngine, schema: str, event: CloudEvent) -> None:
    """Releasing the savepoint commits nothing yet: the wake must wait for the real commit."""
    async with AsyncSession(engine) as session, session.begin():
        async with session.begin_nested():
            await enqueue_event(session, event, schema=schema, topic=TOPIC)
        await session.execute(select(text("pg_sleep(0.2)")))


async def commit_with_raw_sql(engine: AsyncEngine, schema: str, event: CloudEvent) -> None:
    """What a hand-written fast path does: its own INSERT, the NOTIFY only if needed."""
    notify = wake.notify_needed(schema)
    async with engine.begin() as connection:
        await _raw_insert(connection, schema, event, notify=notify)
    wake.committed(schema)


RAW_INSERT = (
    "INSERT INTO outbox (event_id, topic, record_key, payload, headers)"
    " VALUES (:id, :topic, :key, :payload, CAST(:headers AS jsonb))"
)
RAW_INSERT_AND_NOTIFY = (
    "WITH queued AS ("
    "INSERT INTO outbox (event_id, topic, record_key, payload, headers)"
    " VALUES (:id, :topic, :key, :payload, CAST(:headers AS jsonb)) RETURNING id"
    ") SELECT pg_notify(:channel, '') FROM queued"
)


async def _raw_insert(
    connection: AsyncConnection, schema: str, event: CloudEvent, *, notify: bool
) -> None:
    await connection.execute(
        text("SELECT set_config('search_path', :schema, true)"), {"schema": schema}
    )
    await connection.execute(
        text(RAW_INSERT_AND_NOTIFY if notify else RAW_INSERT),
        {
            "id": event.id,
            "topic": TOPIC,
            "key": event.subject,
            "payload": event.to_json_bytes(),
            "headers": orjson.dumps(record_headers(event)).decode(),
            "channel": outbox_notify_channel(schema),
        },
    )


def is_published(engine: AsyncEngine, schema: str, event: CloudEvent) -> Callable[[], Any]:
    outbox = outbox_table(MetaData(schema=schema))

    async def published() -> bool:
        async with engine.connect() as connection:
            at = await connection.scalar(
                select(outbox.c.published_at).where(outbox.c.event_id == event.id)
            )
        return at is not None

    return published


async def lock_holder(engine: AsyncEngine, schema: str) -> int | None:
    key = relay_lock_key(schema) & 0xFFFFFFFFFFFFFFFF  # pg_locks shows two 32-bit halves
    async with engine.connect() as connection:
        pid = await connection.scalar(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
            ),
            {"high": key >> 32, "low": key & 0xFFFFFFFF},
        )
    return None if pid is None else int(pid)


async def test_a_commit_wakes_the_local_leader_without_any_notify(
    engine: AsyncEngine, schema: str
) -> None:
    relay = slow_polling_relay(engine, schema)
    async with running(relay), listening(engine, schema) as notifications:

        async def leads_here() -> bool:
            return not wake.notify_needed(schema)

        await wait_until(leads_here, within=WINDOW_SECONDS, message="the relay to lead")
        for commit in (
            commit_with_session,
            commit_with_session,
            commit_inside_a_savepoint,
            commit_with_raw_sql,
        ):
            event = make_event(subject="ticket-1", data={"sequence": 1})
            await commit(engine, schema, event)
            await wait_until(
                is_published(engine, schema, event),
                within=WINDOW_SECONDS,
                message=f"the row {commit.__name__} committed to be published",
            )

        # Notifications arrive in commit order: once this marker is in, any NOTIFY the
        # commits above had sent would be in too.
        await notify_marker(engine, schema, "marker")

        async def marker_arrived() -> bool:
            return "marker" in notifications

        await wait_until(marker_arrived, within=WINDOW_SECONDS, message="the marker NOTIFY")
    assert notifications == ["marker"], "a commit sent a NOTIFY although its relay leads here"


async def test_a_commit_where_the_relay_stands_by_wakes_the_leader_elsewhere_by_notify(
    engine: AsyncEngine, schema: str, tmp_path: Path
) -> None:
    log = tmp_path / "leader.log"
    leader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.outbox_relay_process",
        schema,
        str(SLOW_POLL_SECONDS),
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:

        async def leads_elsewhere() -> bool:
            return await lock_holder(engine, schema) is not None

        await wait_until(
            leads_elsewhere, within=WINDOW_SECONDS, message=f"the other process to lead ({log})"
        )
        commits = (commit_with_session, commit_with_session, commit_with_raw_sql)

        async def commit_each_and_see_it_published() -> None:
            for commit in commits:
                event = make_event(subject="ticket-1", data={"sequence": 1})
                await commit(engine, schema, event)
                await wait_until(
                    is_published(engine, schema, event),
                    within=WINDOW_SECONDS,
                    message=f"the leader elsewhere to publish what {commit.__name__} committed",
                )

        async with listening(engine, schema) as notifications:
            # No relay in this process: each transaction sends the NOTIFY itself.
            assert wake.notify_needed(schema)
            await commit_each_and_see_it_published()
            standby = slow_polling_relay(engine, schema)
            async with running(standby):

                async def stands_by_here() -> bool:
                    return not wake.notify_needed(schema)

                await wait_until(stands_by_here, within=WINDOW_SECONDS, message="a standby here")
                # The transactions send none now: the standby NOTIFYs after their commits.
                await commit_each_and_see_it_published()
                assert await lock_holder(engine, schema) is not None
                assert not wake.notify_needed(schema), "the standby here must not have taken over"
        assert len(notifications) == 2 * len(commits)
    finally:
        leader.send_signal(signal.SIGTERM)
        await asyncio.wait_for(leader.wait(), WINDOW_SECONDS)
