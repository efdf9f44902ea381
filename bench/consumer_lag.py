"""How far a consumer group is behind on a topic: end offsets minus its committed offsets.

The end-to-end benchmark reads it for every service consuming ``aftercare.tickets`` right
after its window: a group that kept up is (nearly) at the end; one that did not still has
the window's events to apply.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from devkit.databases import kafka_bootstrap_servers
from devkit.kafka_groups import event_topic_partitions


def records_behind(
    end_offsets: dict[TopicPartition, int], committed: dict[TopicPartition, int]
) -> int:
    """Records between each partition's committed offset and its end, summed.

    A partition with no committed offset counts whole: the group has read none of it.
    """
    return sum(
        max(0, end - max(0, committed.get(partition, 0))) for partition, end in end_offsets.items()
    )


async def consumer_group_lag(group_ids: list[str], topic: str) -> dict[str, int]:
    partitions = await event_topic_partitions((topic,))
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers())
    await reader.start()
    await admin.start()
    try:
        ends = await reader.end_offsets(partitions)
        lags: dict[str, int] = {}
        for group_id in group_ids:
            offsets = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
            committed = {partition: meta.offset for partition, meta in offsets.items()}
            lags[group_id] = records_behind(ends, committed)
        return lags
    finally:
        await admin.close()
        await reader.stop()
