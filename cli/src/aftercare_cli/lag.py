"""Consumer lag per group, topic and partition: committed offset against the log end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "topic": self.topic,
            "partition": self.partition,
            "committed": self.committed,
            "end": self.end,
            "lag": self.lag,
        }


async def group_lag(bootstrap_servers: str, groups: Sequence[str]) -> list[PartitionLag]:
    """The lag of every partition each group has committed an offset for."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            try:
                offsets = await admin.list_consumer_group_offsets(group)
            except GroupCoordinatorNotAvailableError:
                # No group has committed anything on this cluster yet.
                offsets = {}
            committed[group] = {
                tp: meta.offset for tp, meta in offsets.items() if meta.offset is not None
            }
    finally:
        await admin.close()
    partitions = sorted({tp for offsets in committed.values() for tp in offsets})
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return [
        PartitionLag(group, tp.topic, tp.partition, offset if offset >= 0 else None, ends[tp])
        for group in groups
        for tp, offset in sorted(committed[group].items())
    ]
