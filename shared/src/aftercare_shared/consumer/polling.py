"""Polling one batch: what the first fetch brings, topped up for a short linger.

Why it exists: a consumer pays per applied batch, not per record: a transaction (BEGIN,
the inbox insert, COMMIT and its WAL flush) and one offset commit to Kafka per partition.
Under a steady stream a poll returns the few records that arrived since the last one (3.3
on average for sla at 200 reports/s in ``make bench``), so those costs were paid for
every three records. A consumer whose events no person waits on (a read model, an SLA
clock that runs from the event's own time) can instead wait a few tens of milliseconds
for more, as a Kafka producer's ``linger.ms`` does. In the bench's end-to-end run at
200/s (two runs each way) that cut sla's CPU per report from 0.88-0.90 to 0.55-0.57 ms
and releases' from 0.69-0.70 to 0.42-0.44 ms, and on two cores the report -> webhook
p99 from 176-214 to 132-152 ms (notify, which people wait on, does not linger).

aiokafka fetches a partition again only once its buffered records were taken, so the
linger keeps taking what has arrived (each ``getmany`` drains the buffer and the fetcher
fetches on) until the batch is full or the linger is over. Records of one partition stay
in offset order: every ``getmany`` continues where the previous one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aftercare_shared.consumer.batch import Record


class BatchSource(Protocol):
    """The part of ``AIOKafkaConsumer`` a poll uses (aiokafka is untyped)."""

    async def getmany(
        self, *partitions: Any, timeout_ms: int = 0, max_records: int | None = None
    ) -> Mapping[Any, Sequence[Record]]: ...


async def poll_batch(
    consumer: BatchSource,
    *,
    timeout_ms: int,
    max_records: int,
    linger_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> dict[Any, list[Record]]:
    """Up to ``max_records`` records by partition; waits at most ``timeout_ms`` for the first.

    Once something arrived, and unless the batch is already full, waits up to
    ``linger_seconds`` more for further records (0: return what the first fetch brought).
    """
    batch = {
        partition: list(records)
        for partition, records in (
            await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        ).items()
        if records
    }
    polled = sum(len(records) for records in batch.values())
    if linger_seconds <= 0 or polled == 0:
        return batch
    deadline = clock() + linger_seconds
    while polled < max_records:
        remaining_ms = int((deadline - clock()) * 1000)
        if remaining_ms <= 0:
            break
        more = await consumer.getmany(timeout_ms=remaining_ms, max_records=max_records - polled)
        for partition, records in more.items():
            if records:
                batch.setdefault(partition, []).extend(records)
                polled += len(records)
    return batch
