"""The outbox relay: publishes committed outbox rows to Kafka, in order per key.

Every replica of a service runs one; an advisory lock lets exactly one of them publish
(two publishers could interleave one key's events). The leader claims unsent rows in id
order with ``FOR UPDATE SKIP LOCKED`` — never "ids above the last one seen", because ids
are taken at insert and commit out of order — sends them, and marks them published only
once Kafka has acknowledged them, in the claiming transaction.

Kafka being down leaves rows unsent. The idempotent producer retries a batch in flight
until the broker is back (without duplicates, which is why it is not timed out here); a
producer that cannot start or that failed is replaced, with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from functools import partial
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import (
    BigInteger,
    MetaData,
    Row,
    Select,
    Table,
    Update,
    any_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aftercare_shared.events.envelope import STRUCTURED_CONTENT_TYPE
from aftercare_shared.kafka_clients import stop_kafka_client
from aftercare_shared.observability.repeated_failures import RepeatedFailureLog
from aftercare_shared.outbox import wake
from aftercare_shared.outbox.leader import relay_leadership
from aftercare_shared.outbox.metrics import (
    OUTBOX_LAG_SECONDS,
    OUTBOX_PUBLISH_FAILURES,
    OUTBOX_PUBLISHED,
    OUTBOX_RELAY_LEADER,
)
from aftercare_shared.outbox.ordering import BatchOutcome, OutboxRecord, publish_in_key_order
from aftercare_shared.outbox.standby_wake import StandbyNotifier
from aftercare_shared.outbox.tables import outbox_table

logger = structlog.get_logger(__name__)

_MIN_LAG_REPORT_INTERVAL_SECONDS = 1.0


def kafka_headers(record: OutboxRecord) -> list[tuple[str, bytes]]:
    """The record's stored headers, always declaring structured-mode CloudEvents."""
    headers = {**record.headers, "content-type": STRUCTURED_CONTENT_TYPE}
    return [(name, value.encode()) for name, value in headers.items()]


class OutboxRelay:
    """Publishes one schema's outbox to Kafka until :meth:`stop` is called.

    ``producer_options`` are extra ``AIOKafkaProducer`` arguments (timeouts, TLS…); the
    delivery guarantees (``acks="all"``, idempotence) are not negotiable and win.
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        schema: str,
        bootstrap_servers: str,
        poll_interval: float = 1.0,
        batch_size: int = 500,
        service: str | None = None,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        shutdown_grace: float = 30.0,
        producer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = f"outbox-relay:{schema}"
        self._engine = engine
        self._schema = schema
        self._bootstrap_servers = bootstrap_servers
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._service = service or schema
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._shutdown_grace = shutdown_grace
        self._producer_options = dict(producer_options or {})
        self._outbox: Table = outbox_table(MetaData(schema=schema))
        self._mark_published = _mark_published_statement(self._outbox)
        self._producer: AIOKafkaProducer | None = None
        self._stop_requested = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._run_task: asyncio.Task[Any] | None = None
        self._log = logger.bind(relay_schema=schema)
        self._failures = RepeatedFailureLog(self._log)

    async def run(self) -> None:
        """Lead (or stand by) and publish until stopped; survives database and Kafka outages."""
        self._run_task = asyncio.current_task()
        self._idle.clear()
        backoff = self._initial_backoff
        lag_reporter = asyncio.create_task(self._report_lag_until_cancelled())
        try:
            while not self._stop_requested.is_set():
                try:
                    await self._lead_or_stand_by()
                    backoff = self._initial_backoff
                except Exception as error:
                    # Usually the database went away; any other surprise gets the same
                    # treatment, because a relay that gives up stalls the service's events.
                    # Logged once per kind per window while the outage lasts.
                    self._failures.exception(
                        "outbox relay interrupted; retrying", error, backoff=backoff
                    )
                    await self._pause(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
        finally:
            lag_reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag_reporter
            await self._discard_producer()
            self._run_task = None
            self._idle.set()

    async def _lead_or_stand_by(self) -> None:
        """Publish for as long as this relay holds the lock; else wait one poll interval."""
        async with relay_leadership(
            self._engine, self._schema, on_wakeup=self._wakeup.set
        ) as leader_connection:
            self._failures.succeeded("outbox relay reaches its database again")
            if leader_connection is None:
                # This process's commits now ask the standby to NOTIFY the leader, after
                # them, instead of each sending a NOTIFY (standby_wake).
                standby = StandbyNotifier(self._engine, self._schema)
                try:
                    with wake.standing_by(self._schema, standby.request):
                        await self._pause(self._poll_interval)
                finally:
                    await standby.close()
                return
            self._log.info("outbox relay leads publishing")
            OUTBOX_RELAY_LEADER.labels(self._service).set(1)
            try:
                # This process's commits now wake the relay directly instead of notifying.
                with wake.leading(self._schema, self._wakeup.set):
                    await self._publish_while_leading(leader_connection)
            finally:
                OUTBOX_RELAY_LEADER.labels(self._service).set(0)

    async def stop(self) -> None:
        """Finish the in-flight batch, give up leadership and return once :meth:`run` has.

        A batch still blocked after ``shutdown_grace`` seconds is cancelled; its rows stay
        unsent (or, if Kafka had already acknowledged them, are sent again later).
        """
        self._stop_requested.set()
        self._wakeup.set()
        task = self._run_task
        if task is None or task is asyncio.current_task():
            return
        try:
            await asyncio.wait_for(self._idle.wait(), self._shutdown_grace)
        except TimeoutError:
            self._log.warning("outbox relay did not drain in time; cancelling it")
            task.cancel()
            await self._idle.wait()

    async def _publish_while_leading(self, connection: AsyncConnection) -> None:
        backoff = self._initial_backoff
        while not self._stop_requested.is_set():
            # Cleared before claiming: a commit that lands during the batch sets it again.
            self._wakeup.clear()
            try:
                producer = await self._ensure_producer()
            except KafkaError as error:
                self._log.warning("kafka unavailable; outbox rows wait", error=repr(error))
                await self._pause(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            claimed, outcome = await self._relay_batch(connection, producer)
            if outcome.failed:
                OUTBOX_PUBLISH_FAILURES.labels(self._service).inc()
                self._log.warning(
                    "kafka refused part of an outbox batch; those rows stay unsent",
                    published=len(outcome.published_ids),
                    claimed=claimed,
                    error=repr(outcome.errors[0]),
                    backoff=backoff,
                )
                # A producer that failed may hold broken connections or a fenced
                # idempotence epoch; a fresh one is the reliable way back.
                await self._discard_producer()
                await self._pause(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = self._initial_backoff
            if claimed < self._batch_size:
                await self._wait_for_work()

    async def _relay_batch(
        self, connection: AsyncConnection, producer: AIOKafkaProducer
    ) -> tuple[int, BatchOutcome]:
        async with connection.begin():
            rows = (await connection.execute(self._claim_statement())).all()
            records = [_record_from_row(row) for row in rows]
            outcome = await publish_in_key_order(records, partial(_send, producer))
            if outcome.published_ids:
                await connection.execute(self._mark_published, {"ids": outcome.published_ids})
        OUTBOX_PUBLISHED.labels(self._service).inc(len(outcome.published_ids))
        return len(records), outcome

    async def _report_lag_until_cancelled(self) -> None:
        """Keep the lag gauge current on its own connection.

        Measured apart from publishing because a batch waiting on an unreachable Kafka
        never finishes: that is exactly when the lag must keep rising on dashboards.
        Standbys report it too; every replica sees the same table.
        """
        interval = max(self._poll_interval, _MIN_LAG_REPORT_INTERVAL_SECONDS)
        while True:
            try:
                async with self._engine.connect() as connection:
                    lag_seconds = await connection.scalar(self._lag_statement())
                OUTBOX_LAG_SECONDS.labels(self._service).set(float(lag_seconds or 0.0))
            except Exception:  # a missed sample; the relay loop reports database trouble
                self._log.debug("could not measure outbox lag", exc_info=True)
            await asyncio.sleep(interval)

    def _claim_statement(self) -> Select[Any]:
        outbox = self._outbox
        return (
            select(
                outbox.c.id, outbox.c.topic, outbox.c.record_key, outbox.c.payload, outbox.c.headers
            )
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )

    def _lag_statement(self) -> Select[Any]:
        outbox = self._outbox
        return (
            select(func.extract("epoch", func.clock_timestamp() - outbox.c.created_at))
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(1)
        )

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                **{
                    **self._producer_options,
                    "bootstrap_servers": self._bootstrap_servers,
                    "acks": "all",
                    "enable_idempotence": True,
                }
            )
            try:
                await producer.start()
            except BaseException:
                await stop_kafka_client(producer, log=self._log)
                raise
            self._producer = producer
        return self._producer

    async def _discard_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        await stop_kafka_client(producer, log=self._log)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), seconds)

    async def _wait_for_work(self) -> None:
        """Sleep until a commit wakes the relay (in process or by NOTIFY) or stop is asked;
        the poll interval is the safety net."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)


def _mark_published_statement(outbox: Table) -> Update:
    """``UPDATE … WHERE id = ANY(:ids)``: one array parameter, so the statement's text is
    the same for every batch and asyncpg prepares it once (an ``IN (…)`` list of changing
    length was a new statement, parsed and planned again, whenever the count changed)."""
    ids = bindparam("ids", type_=ARRAY(BigInteger))
    return update(outbox).where(outbox.c.id == any_(ids)).values(published_at=func.now())


def _record_from_row(row: Row[Any]) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        topic=row.topic,
        record_key=row.record_key,
        payload=bytes(row.payload),
        headers=dict(row.headers or {}),
    )


async def _send(producer: AIOKafkaProducer, record: OutboxRecord) -> None:
    await producer.send_and_wait(
        record.topic,
        value=record.payload,
        key=record.record_key.encode(),
        headers=kafka_headers(record),
    )
