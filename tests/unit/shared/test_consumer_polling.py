"""A poll's linger: the first fetch, topped up until the batch is full or time is up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord, TopicPartition

from aftercare_shared.consumer.batch import Record
from aftercare_shared.consumer.polling import poll_batch

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def record(partition: TopicPartition, offset: int) -> Record:
    fetched: Record = ConsumerRecord(
        partition.topic, partition.partition, offset, 0, 0, None, b"{}", None, 0, 0, headers=[]
    )
    return fetched


class ScriptedConsumer:
    """Answers each ``getmany`` with the next scripted fetch; each call takes ``step`` seconds."""

    def __init__(self, fetches: Sequence[Mapping[TopicPartition, list[Record]]], step: float):
        self.fetches = list(fetches)
        self.step = step
        self.now = 0.0
        self.calls: list[tuple[int, int | None]] = []

    def clock(self) -> float:
        return self.now

    async def getmany(
        self, *partitions: Any, timeout_ms: int = 0, max_records: int | None = None
    ) -> Mapping[Any, Sequence[Record]]:
        self.calls.append((timeout_ms, max_records))
        if not self.fetches:
            self.now += timeout_ms / 1000  # nothing arrives: the whole timeout passes
            return {}
        self.now += self.step
        fetched = self.fetches.pop(0)
        assert max_records is not None
        assert sum(len(records) for records in fetched.values()) <= max_records
        return fetched


def offsets(batch: Mapping[TopicPartition, list[Record]]) -> dict[int, list[int]]:
    return {tp.partition: [r.offset for r in records] for tp, records in batch.items()}


async def test_without_a_linger_a_poll_is_one_fetch() -> None:
    consumer = ScriptedConsumer([{P0: [record(P0, 0)]}, {P0: [record(P0, 1)]}], step=0.001)

    batch = await poll_batch(
        consumer, timeout_ms=500, max_records=100, linger_seconds=0, clock=consumer.clock
    )

    assert offsets(batch) == {0: [0]}
    assert consumer.calls == [(500, 100)]


async def test_a_linger_takes_what_arrives_until_time_is_up_in_offset_order() -> None:
    consumer = ScriptedConsumer(
        [
            {P0: [record(P0, 0)]},
            {P1: [record(P1, 7)]},
            {P0: [record(P0, 1), record(P0, 2)], P1: []},
        ],
        step=0.01,
    )

    batch = await poll_batch(
        consumer, timeout_ms=500, max_records=100, linger_seconds=0.05, clock=consumer.clock
    )

    assert offsets(batch) == {0: [0, 1, 2], 1: [7]}
    # The first fetch waits for the poll's timeout; the top-ups only for what is left of
    # the linger, and ask for no more than the batch has room for.
    assert consumer.calls[0] == (500, 100)
    assert consumer.calls[1] == (50, 99)
    assert consumer.calls[2] == (40, 98)
    assert consumer.now <= 0.01 + 0.05 + 0.01


async def test_a_full_batch_is_not_held_back() -> None:
    consumer = ScriptedConsumer(
        [{P0: [record(P0, 0), record(P0, 1)]}, {P0: [record(P0, 2)]}, {P0: [record(P0, 3)]}],
        step=0.001,
    )

    batch = await poll_batch(
        consumer, timeout_ms=500, max_records=3, linger_seconds=10, clock=consumer.clock
    )

    assert offsets(batch) == {0: [0, 1, 2]}
    assert [max_records for _, max_records in consumer.calls] == [3, 1]


async def test_an_empty_poll_returns_at_once() -> None:
    consumer = ScriptedConsumer([{P0: []}], step=0.5)

    batch = await poll_batch(
        consumer, timeout_ms=500, max_records=100, linger_seconds=10, clock=consumer.clock
    )

    assert batch == {}
    assert len(consumer.calls) == 1
