"""Start a new consumer group at the end of the event topics.

The test and bench brokers are shared by many suites, so their topics are long; a new
group (which starts at the earliest offset, as the services' groups do in production)
would read that whole history before reaching the events of the test at hand.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from aftercare_shared.topics import EVENT_TOPICS
from devkit.databases import kafka_bootstrap_servers


async def event_topic_partitions(topics: tuple[str, ...] = EVENT_TOPICS) -> list[TopicPartition]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers())
    await producer.start()
    try:  # the producer's partitions_for is the public way to learn a topic's partitions
        return [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(await producer.partitions_for(topic))
        ]
    finally:
        await producer.stop()


async def start_groups_at_the_end(*group_ids: str, topics: tuple[str, ...] = EVENT_TOPICS) -> None:
    """Commit the current end offsets of ``topics`` for each (new) group."""
    partitions = await event_topic_partitions(topics)
    for group_id in group_ids:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap_servers(),
            group_id=group_id,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.commit(await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()
