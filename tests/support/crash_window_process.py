"""A real outbox relay or consumer runner in a process of its own, for the crash-window test.

``python -m tests.support.crash_window_process relay SCHEMA BATCH_SIZE PAUSE_AT``
runs :class:`~aftercare_shared.outbox.OutboxRelay` on ``SCHEMA``'s outbox.

``python -m tests.support.crash_window_process consumer SCHEMA TOPIC GROUP PAUSE_AT``
runs :class:`~aftercare_shared.consumer.ConsumerRunner` on ``TOPIC``; its handler appends
one row per applied event to ``SCHEMA.applied`` (in the handler's transaction, with the
inbox row).

Both read the test stack's Postgres and Kafka from the environment (as the tests do).
``PAUSE_AT`` 0 runs normally until SIGTERM/SIGKILL. ``PAUSE_AT`` n > 0 arms the test-only
hook at the risky moment of the n-th round:

- relay: Kafka has acknowledged the claimed batch, the rows are not yet marked published
  (the claiming transaction is still open);
- consumer: the batch's handler effects and inbox rows are committed, its offsets are not.

There the process prints ``paused <json>`` on stdout and blocks its event loop (nothing
more runs: no heartbeat, no ``finally``), until the test SIGKILLs it. Everything else is
the production code path; the hook only waits.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import orjson
from aiokafka import TopicPartition
from sqlalchemy import BigInteger, Column, Identity, Integer, MetaData, Table, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from aftercare_shared.consumer import ConsumerRunner
from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.outbox import OutboxRelay
from aftercare_shared.outbox import relay as relay_module
from aftercare_shared.outbox.ordering import (
    BatchOutcome,
    OutboxRecord,
    SendRecord,
    publish_in_key_order,
)
from devkit.databases import kafka_bootstrap_servers
from tests.support.infra import database_url


def applied_table(schema: str) -> Table:
    """What the consumer's handler writes: one row per applied event, in application order."""
    return Table(
        "applied",
        MetaData(schema=schema),
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("sequence", Integer, nullable=False),
    )


def pause_forever(where: dict[str, Any]) -> NoReturn:
    """Say where we are, then freeze the whole process (a blocking sleep) until killed."""
    sys.stdout.write("paused " + orjson.dumps(where).decode() + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(3600)


async def run_until_terminated(component: OutboxRelay | ConsumerRunner) -> None:
    task = asyncio.create_task(component.run())
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    sys.stdout.write("started\n")
    sys.stdout.flush()
    done, _ = await asyncio.wait(
        [task, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if task not in done:
        await component.stop()
    await task


async def relay_main(schema: str, batch_size: int, pause_at: int) -> None:
    rounds = 0

    async def publish_then_pause(records: Iterable[OutboxRecord], send: SendRecord) -> BatchOutcome:
        nonlocal rounds
        records = list(records)
        outcome = await publish_in_key_order(records, send)
        if records:
            rounds += 1
            if rounds == pause_at:
                pause_forever({"acknowledged_ids": outcome.published_ids})
        return outcome

    # The relay's own publishing step, wrapped: every send is the real one.
    setattr(relay_module, "publish_in_key_order", publish_then_pause)  # noqa: B010
    engine = create_async_engine(database_url(), pool_size=2)
    relay = OutboxRelay(
        engine=engine,
        schema=schema,
        bootstrap_servers=kafka_bootstrap_servers(),
        poll_interval=0.2,
        batch_size=batch_size,
        initial_backoff=0.1,
        max_backoff=1.0,
    )
    try:
        await run_until_terminated(relay)
    finally:
        await engine.dispose()


class PausingRunner(ConsumerRunner):
    """A consumer runner whose ``pause_at``-th offset commit never happens: it freezes."""

    def __init__(self, *, pause_at: int, **options: Any) -> None:
        super().__init__(**options)
        self._pause_at = pause_at
        self._commits = 0

    async def _commit_offsets(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._commits += 1
        if self._commits == self._pause_at:
            pause_forever({"offsets": {str(tp.partition): at for tp, at in offsets.items()}})
        await super()._commit_offsets(offsets)


async def consumer_main(schema: str, topic: str, group: str, pause_at: int) -> None:
    applied = applied_table(schema)

    async def append(session: AsyncSession, event: CloudEvent) -> None:
        await session.execute(
            insert(applied).values(
                event_id=event.id, subject=event.subject, sequence=event.data["sequence"]
            )
        )

    engine = create_async_engine(database_url(), pool_size=2)
    runner = PausingRunner(
        pause_at=pause_at,
        service="crash-window",
        group_id=group,
        topics=[topic],
        bootstrap_servers=kafka_bootstrap_servers(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        schema=schema,
        handler=append,
        max_batch_records=10,
        poll_timeout=0.2,
        consumer_options={"heartbeat_interval_ms": 300, "session_timeout_ms": 6000},
    )
    try:
        await run_until_terminated(runner)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["relay", schema, batch_size, pause_at]:
            asyncio.run(relay_main(schema, int(batch_size), int(pause_at)))
        case ["consumer", schema, topic, group, pause_at]:
            asyncio.run(consumer_main(schema, topic, group, int(pause_at)))
        case _:
            raise SystemExit(__doc__)
