"""Reading dead letters from ``aftercare.<service>.dlq`` and putting them back.

A dead letter is the original record (key, value, headers) plus the ``dlq-*`` headers the
consumer runner adds (:mod:`aftercare_shared.consumer.dlq`). Replaying re-publishes the
original record to its source topic, without the ``dlq-*`` headers and with
:data:`REPLAYED_FROM` / :data:`REPLAY_COUNT` saying where it came from. Every consumer of
that topic dedups on the CloudEvent id in its inbox, so services that applied the event
already skip it, and the one that failed applies it once. If it fails again, the runner
dead-letters it again (keeping these headers, which do not start with ``dlq-``): it waits
in the DLQ for the next operator decision and is never re-sent automatically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from aftercare_shared.consumer.dlq import (
    DLQ_ATTEMPTS,
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_CLASS,
    DLQ_ERROR_MESSAGE,
    DLQ_HEADER_PREFIX,
    DLQ_SERVICE,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
)
from aftercare_shared.names import ServiceName
from aftercare_shared.topics import dlq_topic

REPLAYED_FROM = "aftercare-replayed-from"
"""``<dlq topic>/<partition>/<offset>`` of the dead letter a replayed record came from."""
REPLAY_COUNT = "aftercare-replay-count"
"""How many times this record was put back from a DLQ (1 on the first replay)."""


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    dead_lettered_at: datetime
    key: str | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    event_id: str | None = None
    event_type: str | None = None
    subject: str | None = None
    header_values: dict[str, str] = field(default_factory=dict)

    @property
    def position(self) -> str:
        return f"{self.dlq_topic}/{self.partition}/{self.offset}"

    def header(self, name: str) -> str | None:
        return self.header_values.get(name)

    @property
    def service(self) -> str | None:
        return self.header(DLQ_SERVICE)

    @property
    def consumer_group(self) -> str | None:
        return self.header(DLQ_CONSUMER_GROUP)

    @property
    def source_topic(self) -> str | None:
        return self.header(DLQ_SOURCE_TOPIC)

    @property
    def replay_count(self) -> int:
        raw = self.header(REPLAY_COUNT)
        return int(raw) if raw and raw.isdigit() else 0

    def summary(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "dlq_topic": self.dlq_topic,
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
            "key": self.key,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "subject": self.subject,
            "service": self.service,
            "consumer_group": self.consumer_group,
            "error_class": self.header(DLQ_ERROR_CLASS),
            "error_message": self.header(DLQ_ERROR_MESSAGE),
            "attempts": _int_or_none(self.header(DLQ_ATTEMPTS)),
            "source_topic": self.source_topic,
            "source_partition": _int_or_none(self.header(DLQ_SOURCE_PARTITION)),
            "source_offset": _int_or_none(self.header(DLQ_SOURCE_OFFSET)),
            "replayed_from": self.header(REPLAYED_FROM),
            "replay_count": self.replay_count,
        }

    def detail(self) -> dict[str, Any]:
        """The summary plus every header and the value (JSON when it is JSON)."""
        value: Any = None
        if self.value is not None:
            try:
                value = json.loads(self.value)
            except ValueError:
                value = self.value.decode(errors="replace")
        return {**self.summary(), "headers": self.header_values, "value": value}


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.lstrip("-").isdigit() else None


@dataclass(frozen=True)
class DeadLetterFilter:
    since: datetime | None = None
    event_type: str | None = None
    consumer_group: str | None = None

    def admits(self, letter: DeadLetter) -> bool:
        if self.since is not None and letter.dead_lettered_at < self.since:
            return False
        if self.consumer_group is not None and letter.consumer_group != self.consumer_group:
            return False
        if self.event_type is not None:
            wanted = self.event_type
            full = letter.event_type or ""
            # "ticket.created" and "aftercare.ticket.created.v1" both name the type.
            if full != wanted and not full.startswith(f"aftercare.{wanted}."):
                return False
        return True


def _decoded(record: Any, topic: str) -> DeadLetter:
    headers = tuple((name, bytes(value or b"")) for name, value in (record.headers or ()))
    header_values = {name: value.decode(errors="replace") for name, value in headers}
    event_id = event_type = subject = None
    if record.value is not None:
        try:
            body = json.loads(record.value)
        except ValueError:
            body = None
        if isinstance(body, dict):
            event_id = _str_or_none(body.get("id"))
            event_type = _str_or_none(body.get("type"))
            subject = _str_or_none(body.get("subject"))
    return DeadLetter(
        dlq_topic=topic,
        partition=record.partition,
        offset=record.offset,
        dead_lettered_at=datetime.fromtimestamp(record.timestamp / 1000, tz=UTC),
        key=record.key.decode(errors="replace") if record.key is not None else None,
        value=record.value,
        headers=headers,
        event_id=event_id,
        event_type=event_type,
        subject=subject,
        header_values=header_values,
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def read_dead_letters(
    bootstrap_servers: str,
    services: Sequence[ServiceName],
    selection: DeadLetterFilter,
    *,
    on_total: Callable[[int], None] = lambda _total: None,
    on_read: Callable[[int], None] = lambda _count: None,
) -> list[DeadLetter]:
    """Every dead letter of ``services`` admitted by ``selection``, oldest first per partition.

    Reads without a consumer group (nothing is committed) from ``since`` (or the start) up
    to the end offsets taken when it begins, so it always finishes.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = await _dlq_partitions(consumer, bootstrap_servers, services)
        if not partitions:
            return []
        consumer.assign(partitions)
        starts = await _start_offsets(consumer, partitions, selection.since)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp: ends[tp] for tp in partitions if starts[tp] < ends[tp]}
        on_total(sum(ends[tp] - starts[tp] for tp in remaining))
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        letters: list[DeadLetter] = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= remaining.get(tp, -1):
                        continue
                    letter = _decoded(record, tp.topic)
                    if selection.admits(letter):
                        letters.append(letter)
                on_read(len(records))
                if records and records[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    remaining.pop(tp)
        return letters
    finally:
        await consumer.stop()


async def _dlq_partitions(
    consumer: AIOKafkaConsumer, bootstrap_servers: str, services: Sequence[ServiceName]
) -> list[TopicPartition]:
    """The partitions of the services' DLQ topics that exist (a producer's metadata view is
    the public way to learn the partitions of a topic one is not subscribed to)."""
    known = await consumer.topics()
    wanted = [dlq_topic(service.value) for service in services]
    present = [topic for topic in wanted if topic in known]
    if not present:
        return []
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        return [
            TopicPartition(topic, partition)
            for topic in present
            for partition in sorted(await producer.partitions_for(topic))
        ]
    finally:
        await producer.stop()


async def _start_offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], since: datetime | None
) -> dict[TopicPartition, int]:
    beginnings: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
    if since is None:
        return beginnings
    found = await consumer.offsets_for_times(
        {tp: int(since.timestamp() * 1000) for tp in partitions}
    )
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    return {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in partitions}


def latest_per_event(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """One dead letter per (consumer group, event): the most recent copy.

    A record replayed and dead-lettered again is in the DLQ twice; putting it back twice
    would be harmless (the inbox) but noisy.
    """
    chosen: dict[tuple[str | None, str], DeadLetter] = {}
    undecodable: list[DeadLetter] = []
    for letter in letters:
        if letter.event_id is None:
            undecodable.append(letter)
            continue
        key = (letter.consumer_group, letter.event_id)
        current = chosen.get(key)
        if current is None or letter.dead_lettered_at >= current.dead_lettered_at:
            chosen[key] = letter
    in_order = sorted(chosen.values(), key=lambda letter: (letter.dead_lettered_at, letter.offset))
    return in_order + undecodable


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The original headers, without the DLQ's, marked as a replay of ``letter``."""
    kept = [
        (name, value)
        for name, value in letter.headers
        if not name.startswith(DLQ_HEADER_PREFIX) and name not in (REPLAYED_FROM, REPLAY_COUNT)
    ]
    return [
        *kept,
        (REPLAYED_FROM, letter.position.encode()),
        (REPLAY_COUNT, str(letter.replay_count + 1).encode()),
    ]


async def republish(
    bootstrap_servers: str,
    letters: Sequence[DeadLetter],
    *,
    on_sent: Callable[[int], None] = lambda _n: None,
) -> None:
    """Send each letter's original record back to its source topic (acks=all, idempotent)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for letter in letters:
            if letter.source_topic is None:
                raise ValueError(f"{letter.position} names no source topic")
            await producer.send_and_wait(
                letter.source_topic,
                value=letter.value,
                key=letter.key.encode() if letter.key is not None else None,
                headers=replay_headers(letter),
            )
            on_sent(1)
    finally:
        await producer.stop()
