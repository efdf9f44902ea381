"""Where the tests' Postgres and Kafka are, and small helpers to use them.

CI (``make test``) sets ``AFTERCARE_DATABASE_URL`` and ``AFTERCARE_KAFKA_BOOTSTRAP_SERVERS``
to its own stack; the defaults below are only for a developer's shared dev servers.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from alembic.migration import MigrationContext
from alembic.operations import Operations
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.outbox import (
    create_messaging_tables,
    create_outbox_purge_index,
    drop_messaging_tables,
    drop_outbox_purge_index,
)
from devkit.databases import base_database_url


def database_url() -> str:
    """The SQLAlchemy (asyncpg) URL of the test database."""
    scheme, _, rest = base_database_url().partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    return base_database_url()


def unique_name(prefix: str) -> str:
    """A name no other test (or earlier run) uses: topics, schemas, consumer groups."""
    return f"{prefix}_{secrets.token_hex(5)}"


def _run_alembic(connection: Connection, schema: str, *, create: bool) -> None:
    with Operations.context(MigrationContext.configure(connection)):
        if create:
            create_messaging_tables(schema)
            create_outbox_purge_index(schema)
        else:
            drop_outbox_purge_index(schema)
            drop_messaging_tables(schema)


async def create_messaging_schema(engine: AsyncEngine, schema: str) -> None:
    """A fresh schema with the outbox and inbox, made by the real migration helper."""
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await connection.run_sync(_run_alembic, schema, create=True)


async def drop_messaging_schema(engine: AsyncEngine, schema: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_run_alembic, schema, create=False)
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def make_event(*, subject: str, data: dict[str, Any], event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event_id or secrets.token_hex(16),
        source="/aftercare/intake",
        type="aftercare.ticket.updated.v1",
        time=datetime.now(UTC),
        subject=subject,
        data=data,
        traceparent=f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
    )


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    expected: int,
    within: float = 30.0,
    linger: float = 1.0,
) -> list[Any]:
    """Every record of ``topic`` (read by a fresh consumer group), in partition order.

    Reads until ``expected`` records arrived (or ``within`` seconds), then ``linger`` seconds
    more so that surplus records — duplicates — show up too.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=unique_name("reader"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + within
        while len(records) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=250)
            for partition_records in batch.values():
                records.extend(partition_records)
        linger_until = loop.time() + linger
        while loop.time() < linger_until:
            batch = await consumer.getmany(timeout_ms=250)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    *,
    within: float,
    interval: float = 0.1,
    message: str = "condition",
) -> None:
    """Poll the async ``condition()`` until it is true; fail the test after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {within}s waiting for {message}")
        await asyncio.sleep(interval)


async def holds_for(
    condition: Callable[[], Awaitable[bool]],
    *,
    seconds: float,
    interval: float = 0.1,
    message: str = "condition",
) -> None:
    """Poll the async ``condition()`` for a stated window; fail the moment it is false.

    "Nothing more arrives" cannot be proven for ever, only for a window: choose
    ``seconds`` as a multiple of whatever would make something arrive (a poll interval,
    a retry schedule), and say so at the call.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if not await condition():
            raise AssertionError(f"{message} stopped holding within the {seconds}s window")
        if loop.time() > deadline:
            return
        await asyncio.sleep(interval)


def metric_value(name: str, service: str, **labels: str) -> float:
    """A sample of the default Prometheus registry (0 when never recorded)."""
    return REGISTRY.get_sample_value(name, {"service": service, **labels}) or 0.0


def header_map(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    return {name: value.decode() for name, value in headers}
