"""Runs one service's Kafka consumer group: a polled batch → one DB transaction → offsets.

Each record is applied at most once (the inbox), delivered at least once (offsets are
committed only after the database commit, by hand), retried with backoff while its
partition waits, and dead-lettered after ``max_attempts`` so the partition moves on.

A polled batch (at most ``max_batch_records``) is applied in one transaction by the fast
path in :mod:`aftercare_shared.consumer.batch` (why it exists is written there) and each
partition's offset is committed once, after that commit. A batch that fails in any way
is rolled back and handled again record by record, the path here that owns retries and
the DLQ, so those behave exactly as for a single record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.consumer.batch import BatchFailedError, Delivery, Record, apply_batch
from aftercare_shared.consumer.dlq import dead_letter_headers, error_class_name
from aftercare_shared.consumer.metrics import (
    CONSUMER_DEAD_LETTERED,
    CONSUMER_DUPLICATES,
    CONSUMER_FAILED,
    CONSUMER_PROCESSED,
)
from aftercare_shared.consumer.polling import poll_batch
from aftercare_shared.consumer.processing import (
    DatabaseUnavailableError,
    EventHandler,
    PermanentEventError,
    apply_once,
)
from aftercare_shared.events.envelope import CloudEvent, EventDecodeError
from aftercare_shared.kafka_clients import stop_kafka_client
from aftercare_shared.observability.tracing import bind_traceparent, clear_trace
from aftercare_shared.outbox.tables import inbox_table
from aftercare_shared.topics import dlq_topic as default_dlq_topic

logger = structlog.get_logger(__name__)


class _RecordAbandonedError(Exception):
    """The record was left unprocessed (stop or rebalance); it will be delivered again."""


class _RevocationListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the runner finish the record in flight before its partitions move away."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._runner._on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._runner._log.info("partitions assigned", partitions=sorted(map(str, assigned)))


class _BatchFailure:
    """Why a batch was rolled back; ``record`` is the one whose handler raised, if any."""

    def __init__(self, record: Record | None, error: BaseException | None) -> None:
        self.record = record
        self.error = error


def _decode(record: Record) -> CloudEvent:
    if record.value is None:
        raise EventDecodeError("record has no value")
    return CloudEvent.from_json_bytes(record.value)


class ConsumerRunner:
    """Consumes ``topics`` as ``group_id`` and applies each event with ``handler``.

    ``transient_errors`` are the handler errors worth retrying (default: any). Others,
    :class:`PermanentEventError`, and records that are not CloudEvents go to the DLQ at
    once. Connection failures of the database before the handler runs are not the
    record's fault: they are retried, with capped backoff, for as long as they last.

    ``linger`` (seconds) lets a poll that brought fewer than ``max_batch_records`` wait
    that long for more before the batch is applied (:mod:`~aftercare_shared.consumer.polling`).
    """

    def __init__(
        self,
        *,
        service: str,
        group_id: str,
        topics: list[str],
        bootstrap_servers: str,
        session_factory: async_sessionmaker[AsyncSession],
        schema: str,
        handler: EventHandler,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        max_retry_backoff: float = 30.0,
        dlq_topic: str | None = None,
        transient_errors: tuple[type[Exception], ...] = (Exception,),
        max_batch_records: int = 100,
        poll_timeout: float = 0.5,
        linger: float = 0.0,
        revoke_grace: float = 20.0,
        shutdown_grace: float = 30.0,
        consumer_options: Mapping[str, Any] | None = None,
        producer_options: Mapping[str, Any] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.name = f"consumer:{group_id}"
        self._service = service
        self._group_id = group_id
        self._topics = list(topics)
        self._bootstrap_servers = bootstrap_servers
        self._session_factory = session_factory
        self._inbox = inbox_table(MetaData(schema=schema))
        self._handler = handler
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._max_retry_backoff = max_retry_backoff
        self._dlq_topic = dlq_topic or default_dlq_topic(service)
        self._transient_errors = transient_errors
        self._max_batch_records = max_batch_records
        self._poll_timeout_ms = int(poll_timeout * 1000)
        self._linger = linger
        self._revoke_grace = revoke_grace
        self._shutdown_grace = shutdown_grace
        self._consumer_options = dict(consumer_options or {})
        self._producer_options = dict(producer_options or {})
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        # Bumped on every revocation: records fetched under an older generation are stale.
        self._generation = 0
        self._stop_requested = asyncio.Event()
        self._interrupted = asyncio.Event()
        self._record_idle = asyncio.Event()
        self._record_idle.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._run_task: asyncio.Task[Any] | None = None
        self._log = logger.bind(consumer_group=group_id)

    @property
    def service(self) -> str:
        return self._service

    @property
    def group_id(self) -> str:
        """The consumer group; also the inbox's ``consumer`` column for these events."""
        return self._group_id

    async def run(self) -> None:
        """Join the group and process records until :meth:`stop` is called."""
        self._run_task = asyncio.current_task()
        self._idle.clear()
        try:
            consumer = self._consumer = self._build_consumer()
            producer = self._producer = self._build_producer()
            consumer.subscribe(self._topics, listener=_RevocationListener(self))
            await consumer.start()
            await producer.start()
            self._log.info("consumer started", topics=self._topics)
            while not self._stop_requested.is_set():
                # Read before fetching: a rebalance during the fetch marks the batch stale.
                generation = self._generation
                batch = await poll_batch(
                    consumer,
                    timeout_ms=self._poll_timeout_ms,
                    max_records=self._max_batch_records,
                    linger_seconds=self._linger,
                )
                await self._process_batch(batch, generation)
        finally:
            try:
                await self._close_clients()
            finally:  # even when cancelled while closing: stop() waits on this
                self._run_task = None
                self._idle.set()

    async def stop(self) -> None:
        """Finish the record in flight, leave the group and return once :meth:`run` has.

        Still busy after ``shutdown_grace`` seconds, the run is cancelled; the record it
        was on has no committed offset, so the group gets it again.
        """
        self._stop_requested.set()
        self._interrupted.set()
        task = self._run_task
        if task is None or task is asyncio.current_task():
            return
        try:
            await asyncio.wait_for(self._idle.wait(), self._shutdown_grace)
        except TimeoutError:
            self._log.warning("consumer did not stop in time; cancelling it")
            task.cancel()
            await self._idle.wait()

    def _build_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **{
                **self._consumer_options,
                "bootstrap_servers": self._bootstrap_servers,
                "group_id": self._group_id,
                "enable_auto_commit": False,
                "auto_offset_reset": "earliest",
            }
        )

    def _build_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **{
                **self._producer_options,
                "bootstrap_servers": self._bootstrap_servers,
                "acks": "all",
                "enable_idempotence": True,
            }
        )

    async def _close_clients(self) -> None:
        # Stopping the consumer commits nothing (auto-commit is off): whatever was not
        # committed record by record is redelivered to the group.
        for client in (self._consumer, self._producer):
            if client is not None:
                await stop_kafka_client(client, log=self._log)
        self._consumer = self._producer = None

    async def _on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._generation += 1
        self._interrupted.set()
        self._log.info("partitions revoked", partitions=sorted(map(str, revoked)))
        try:
            await asyncio.wait_for(self._record_idle.wait(), self._revoke_grace)
        except TimeoutError:
            # Safe anyway: the record has no committed offset, and the inbox turns a
            # concurrent second delivery into a no-op.
            self._log.warning("record still in flight while its partition moves away")

    async def _process_batch(
        self, batch: Mapping[TopicPartition, Sequence[Record]], generation: int
    ) -> None:
        batch = {partition: records for partition, records in batch.items() if records}
        if not batch:
            return
        if self._stop_requested.is_set() or self._generation != generation:
            self._rewind_unprocessed(batch, next(iter(batch)), 0)
            return
        self._interrupted.clear()
        self._record_idle.clear()
        try:
            failure = await self._apply_batch(batch)
        finally:
            self._record_idle.set()
        if failure is None:
            await self._commit_offsets(
                {partition: records[-1].offset + 1 for partition, records in batch.items()}
            )
            return
        if failure.error is not None:
            self._log.info(
                "batch rolled back; applying its records one by one",
                error_class=error_class_name(failure.error),
                error=str(failure.error),
            )
        await self._process_one_by_one(batch, generation, failure)

    async def _apply_batch(
        self, batch: Mapping[TopicPartition, Sequence[Record]]
    ) -> _BatchFailure | None:
        """Apply every record in one transaction (the fast path); None when it committed."""
        deliveries: list[Delivery] = []
        for records in batch.values():
            for record in records:
                try:
                    deliveries.append(Delivery(record, _decode(record)))
                except EventDecodeError:
                    return _BatchFailure(None, None)  # the record path dead-letters it
        try:
            outcome = await apply_batch(
                session_factory=self._session_factory,
                inbox=self._inbox,
                consumer=self._group_id,
                deliveries=deliveries,
                handler=self._handler,
            )
        except BatchFailedError as failed:
            return _BatchFailure(failed.blamed, failed.error)
        for record in outcome.applied:
            CONSUMER_PROCESSED.labels(self._service, record.topic).inc()
        for record in outcome.duplicates:
            CONSUMER_DUPLICATES.labels(self._service, record.topic).inc()
        return None

    async def _process_one_by_one(
        self,
        batch: Mapping[TopicPartition, Sequence[Record]],
        generation: int,
        failure: _BatchFailure,
    ) -> None:
        for partition, records in batch.items():
            for index, record in enumerate(records):
                if self._stop_requested.is_set() or self._generation != generation:
                    self._rewind_unprocessed(batch, partition, index)
                    return
                self._interrupted.clear()
                self._record_idle.clear()
                # The batch already tried the record that failed it: that was attempt 1.
                prior_error = failure.error if record is failure.record else None
                try:
                    await self._process_record(record, prior_error=prior_error)
                except _RecordAbandonedError:
                    self._rewind_unprocessed(batch, partition, index)
                    return
                finally:
                    self._record_idle.set()

    def _rewind_unprocessed(
        self,
        batch: Mapping[TopicPartition, Sequence[Record]],
        from_partition: TopicPartition,
        from_index: int,
    ) -> None:
        """Seek back so records fetched but not processed are fetched again, never skipped."""
        consumer = self._consumer
        if consumer is None or self._stop_requested.is_set():
            return  # stopping: uncommitted records go to the next member of the group
        assigned = consumer.assignment()
        reached = False
        for partition, records in batch.items():
            reached = reached or partition == from_partition
            if not reached:
                continue
            start = from_index if partition == from_partition else 0
            if start < len(records) and partition in assigned:
                consumer.seek(partition, records[start].offset)

    async def _process_record(
        self, record: Record, *, prior_error: BaseException | None = None
    ) -> None:
        with structlog.contextvars.bound_contextvars(
            kafka_topic=record.topic, kafka_partition=record.partition, kafka_offset=record.offset
        ):
            try:
                event = _decode(record)
            except EventDecodeError as error:
                self._log.warning("record is not a CloudEvent; dead-lettering it", error=str(error))
                await self._dead_letter(record, error, attempts=1)
                return
            # Logs and any events the handler emits continue the producer's trace.
            bind_traceparent(event.traceparent)
            try:
                with structlog.contextvars.bound_contextvars(
                    event_id=event.id, event_type=event.type
                ):
                    await self._apply_with_retries(record, event, prior_error=prior_error)
            finally:
                clear_trace()

    async def _apply_with_retries(
        self, record: Record, event: CloudEvent, *, prior_error: BaseException | None = None
    ) -> None:
        attempt = 0
        unavailable_streak = 0
        if prior_error is not None:
            attempt = 1
            if await self._after_failure(record, prior_error, attempt):
                return
        while True:
            attempt += 1
            try:
                applied = await apply_once(
                    session_factory=self._session_factory,
                    inbox=self._inbox,
                    consumer=self._group_id,
                    event=event,
                    handler=self._handler,
                )
            except DatabaseUnavailableError as error:
                attempt -= 1
                unavailable_streak += 1
                delay = self._retry_delay(unavailable_streak)
                self._log.warning("database unavailable; waiting", error=str(error), delay=delay)
                await self._wait_before_retry(delay)
                continue
            except Exception as error:
                if await self._after_failure(record, error, attempt):
                    return
                continue
            if applied:
                CONSUMER_PROCESSED.labels(self._service, record.topic).inc()
            else:
                CONSUMER_DUPLICATES.labels(self._service, record.topic).inc()
                self._log.info("event already applied; skipping")
            await self._commit_offset(record)
            return

    async def _after_failure(self, record: Record, error: BaseException, attempt: int) -> bool:
        """Dead-letter the record (True) or wait before the next attempt (False)."""
        CONSUMER_FAILED.labels(self._service, record.topic).inc()
        retryable = isinstance(error, self._transient_errors) and not isinstance(
            error, PermanentEventError
        )
        if not retryable or attempt >= self._max_attempts:
            self._log.error(
                "event handler failed for good; dead-lettering the record",
                error_class=error_class_name(error),
                error=str(error),
                attempts=attempt,
            )
            await self._dead_letter(record, error, attempts=attempt)
            return True
        delay = self._retry_delay(attempt)
        self._log.warning(
            "event handler failed; retrying",
            error_class=error_class_name(error),
            error=str(error),
            attempt=attempt,
            delay=delay,
        )
        await self._wait_before_retry(delay)
        return False

    def _retry_delay(self, attempt: int) -> float:
        delay: float = min(self._retry_backoff * 2 ** (attempt - 1), self._max_retry_backoff)
        return delay

    async def _wait_before_retry(self, delay: float) -> None:
        """Sleep, unless a stop or rebalance says to give the record up (uncommitted)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._interrupted.wait(), delay)
        if self._interrupted.is_set():
            raise _RecordAbandonedError

    async def _dead_letter(self, record: Record, error: BaseException, *, attempts: int) -> None:
        """Produce the original record to the DLQ, then move the partition past it.

        Until the DLQ accepts it the offset stays put: a record is never dropped.
        """
        headers = dead_letter_headers(
            original_headers=record.headers,
            error=error,
            attempts=attempts,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            service=self._service,
            consumer_group=self._group_id,
        )
        failures = 0
        while True:
            producer = self._producer
            assert producer is not None, "dead-lettering happens only while running"
            try:
                await producer.send_and_wait(
                    self._dlq_topic, value=record.value, key=record.key, headers=headers
                )
                break
            except KafkaError as send_error:
                failures += 1
                delay = self._retry_delay(failures)
                self._log.warning(
                    "dead-letter topic unavailable; retrying",
                    error=repr(send_error),
                    delay=delay,
                )
                await self._wait_before_retry(delay)
        CONSUMER_DEAD_LETTERED.labels(self._service, record.topic).inc()
        await self._commit_offset(record)

    async def _commit_offset(self, record: Record) -> None:
        """Commit the offset after ``record``; the database already holds its effects."""
        await self._commit_offsets(
            {TopicPartition(record.topic, record.partition): record.offset + 1}
        )

    async def _commit_offsets(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit each partition's next offset at once; the database holds their effects."""
        consumer = self._consumer
        assert consumer is not None, "offsets are committed only while running"
        try:
            await consumer.commit(dict(offsets))
        except KafkaError as error:
            # A partition moved (or Kafka blinked): whoever gets the records next finds
            # them in the inbox and skips them, so nothing is applied twice.
            self._log.warning(
                "offset commit failed; the records will be redelivered and skipped",
                error=repr(error),
                offsets={str(partition): offset for partition, offset in offsets.items()},
            )
