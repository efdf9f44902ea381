"""How far consumer groups are behind on a topic: end offsets minus committed offsets.

The end-to-end benchmark samples it through its window for every service consuming
``aftercare.tickets``: a group that keeps up stays a few records behind; one that does not
builds a backlog while the load runs (and may drain it after, so the figure that tells
is the largest lag sampled, not the last).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from devkit.databases import kafka_bootstrap_servers
from devkit.kafka_groups import event_topic_partitions

SAMPLE_INTERVAL_SECONDS = 1.0


def records_behind(
    end_offsets: dict[TopicPartition, int], committed: dict[TopicPartition, int]
) -> int:
    """Records between each partition's committed offset and its end, summed.

    A partition with no committed offset counts whole: the group has read none of it.
    """
    return sum(
        max(0, end - max(0, committed.get(partition, 0))) for partition, end in end_offsets.items()
    )


class ConsumerLagSampler:
    """Reads the groups' lag on demand, and in the background keeps each group's largest."""

    def __init__(self, group_ids: list[str], topic: str) -> None:
        self.group_ids = group_ids
        self.topic = topic
        self.largest: dict[str, int] = dict.fromkeys(group_ids, 0)
        self._reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers())
        self._admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers())
        self._partitions: list[TopicPartition] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ConsumerLagSampler:
        self._partitions = await event_topic_partitions((self.topic,))
        await self._reader.start()
        await self._admin.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop_sampling()
        await self._admin.close()
        await self._reader.stop()

    async def lag(self) -> dict[str, int]:
        ends = await self._reader.end_offsets(self._partitions)
        lags: dict[str, int] = {}
        for group_id in self.group_ids:
            offsets = await self._admin.list_consumer_group_offsets(
                group_id, partitions=self._partitions
            )
            committed = {partition: meta.offset for partition, meta in offsets.items()}
            lags[group_id] = records_behind(ends, committed)
            self.largest[group_id] = max(self.largest[group_id], lags[group_id])
        return lags

    def start_sampling(self) -> None:
        self._task = asyncio.create_task(self._sample_forever())

    async def stop_sampling(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sample_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed sample only thins the series
                await self.lag()
            await asyncio.sleep(SAMPLE_INTERVAL_SECONDS)
