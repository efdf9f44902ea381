"""Re-delivering a topic's records to one service: rewind its consumer group.

This is what ``kafka-consumer-groups --reset-offsets --group G --topic T --to-offset N |
--to-datetime D`` does, with the checks an operator would otherwise make by hand:

- Only the one service's group moves; every other group, and the topic itself, stay as
  they are (no copies are published, so no other consumer sees anything twice and the
  records keep their per-key order).
- The group must have no live members (the service is stopped): Kafka refuses to move the
  offsets of a group that is consuming, and so does this.
- Offsets only move back: a target past the committed offset would skip records that were
  never applied, so that partition keeps its committed offset.

When the service starts again it reads the rewound range; its inbox skips every event it
already applied, so a replay applies only what the service lacks (say, after its database
was restored from a backup) and running it twice changes nothing more. With ``reapply``,
the group's inbox rows for the events in the range are forgotten first, so those events are
applied once more: for rebuilding a read model a handler fills in differently now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from aftercare_cli.output import CommandFailedError

_REQUEST_TIMEOUT_MS = 15000
# DescribeGroups response rows: (error_code, group_id, state, protocol_type, protocol, members…)
_GROUP_STATE, _GROUP_MEMBERS = 2, 5


@dataclass(frozen=True)
class ReplayStart:
    """Where to rewind to: one offset for every partition, or the first record at a time."""

    offset: int | None = None
    since: datetime | None = None

    def describe(self) -> str:
        return f"offset {self.offset}" if self.offset is not None else f"since {self.since}"


@dataclass(frozen=True)
class PartitionPlan:
    partition: int
    committed: int | None
    new_offset: int
    end: int

    @property
    def records(self) -> int:
        """Records the group will read again (from the new offset up to where it was)."""
        until = self.committed if self.committed is not None else self.end
        return max(until - self.new_offset, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "committed": self.committed,
            "new_offset": self.new_offset,
            "end": self.end,
            "records": self.records,
        }


@dataclass(frozen=True)
class ReplayPlan:
    topic: str
    group: str
    partitions: tuple[PartitionPlan, ...]

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)


async def group_members(bootstrap_servers: str, group: str) -> tuple[str, int]:
    """The group's state (``Empty``, ``Stable``, ``Dead``…) and how many members it has."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=_REQUEST_TIMEOUT_MS
    )
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    except GroupCoordinatorNotAvailableError:
        return "Dead", 0
    finally:
        await admin.close()
    for response in responses:
        for row in response.groups:
            return str(row[_GROUP_STATE]), len(row[_GROUP_MEMBERS])
    return "Dead", 0


async def plan_replay(
    bootstrap_servers: str, topic: str, group: str, start: ReplayStart
) -> ReplayPlan:
    """The offset each partition of ``topic`` moves to; reads and changes nothing."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise CommandFailedError(f"topic {topic!r} does not exist")
        partitions = await _partitions(bootstrap_servers, topic)
        beginnings = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        targets = await _targets(consumer, partitions, start, beginnings, ends)
    finally:
        await consumer.stop()
    committed = await _committed(bootstrap_servers, group, partitions)
    plans = []
    for tp in partitions:
        target = targets[tp]
        current = committed.get(tp)
        # Only ever back: moving forward would skip records the service has not applied.
        new_offset = min(target, current) if current is not None else target
        plans.append(PartitionPlan(tp.partition, current, new_offset, ends[tp]))
    return ReplayPlan(topic, group, tuple(plans))


async def _partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """A producer's metadata view: the public way to learn the partitions of a topic one
    does not consume."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        return [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
    finally:
        await producer.stop()


async def _targets(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    start: ReplayStart,
    beginnings: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if start.offset is not None:
        # As kafka-consumer-groups does: clamped into what the partition still holds.
        return {tp: min(max(start.offset, beginnings[tp]), ends[tp]) for tp in partitions}
    assert start.since is not None
    found = await consumer.offsets_for_times(
        {tp: int(start.since.timestamp() * 1000) for tp in partitions}
    )
    return {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in partitions}


async def _committed(
    bootstrap_servers: str, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=_REQUEST_TIMEOUT_MS
    )
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    except GroupCoordinatorNotAvailableError:
        return {}
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def event_ids_in_range(
    bootstrap_servers: str, plan: ReplayPlan, *, on_read: Callable[[int], None]
) -> list[str]:
    """The CloudEvent ids of the records the group will read again (without a group:
    nothing is committed by reading)."""
    import json

    wanted = {
        TopicPartition(plan.topic, p.partition): (p.new_offset, p.new_offset + p.records)
        for p in plan.partitions
        if p.records > 0
    }
    if not wanted:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    ids: list[str] = []
    try:
        consumer.assign(list(wanted))
        for tp, (first, _stop) in wanted.items():
            consumer.seek(tp, first)
        remaining = dict(wanted)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                stop = remaining[tp][1]
                inside = [r for r in records if r.offset < stop]
                for record in inside:
                    try:
                        event_id = json.loads(record.value or b"null").get("id")
                    except (ValueError, AttributeError):
                        event_id = None
                    if isinstance(event_id, str):
                        ids.append(event_id)
                on_read(len(inside))
                if records and records[-1].offset + 1 >= stop:
                    remaining.pop(tp)
    finally:
        await consumer.stop()
    return ids


async def rewind(bootstrap_servers: str, plan: ReplayPlan) -> None:
    """Commit the planned offsets as the group (refused by Kafka if it has members)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=plan.group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(plan.topic, p.partition) for p in plan.partitions]
        # Manual assignment: the tool commits for the group without joining it.
        consumer.assign(partitions)
        await consumer.commit(
            {TopicPartition(plan.topic, p.partition): p.new_offset for p in plan.partitions}
        )
    finally:
        await consumer.stop()
