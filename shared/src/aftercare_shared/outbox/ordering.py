"""Publishing a claimed batch without ever reordering the events of one aggregate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One claimed outbox row, as the relay sends it."""

    id: int
    topic: str
    record_key: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class BatchOutcome:
    """Which rows Kafka acknowledged, and the first error that held a key back."""

    published_ids: list[int] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


SendRecord = Callable[[OutboxRecord], Awaitable[None]]


def group_by_key(records: Iterable[OutboxRecord]) -> list[list[OutboxRecord]]:
    """Split records into one run per (topic, key), each run in id order.

    Kafka keeps order per partition and a key always maps to one partition, so only
    records sharing topic and key need to wait for each other.
    """
    runs: dict[tuple[str, str], list[OutboxRecord]] = {}
    for record in sorted(records, key=lambda record: record.id):
        runs.setdefault((record.topic, record.record_key), []).append(record)
    return list(runs.values())


async def publish_in_key_order(records: Iterable[OutboxRecord], send: SendRecord) -> BatchOutcome:
    """Send every key's records one after another (each awaited), keys concurrently.

    A failed send stops its key for this batch: the records behind it must not reach
    Kafka before it does. Other keys carry on. Only acknowledged ids are reported.
    """
    outcome = BatchOutcome()

    async def publish_run(run: list[OutboxRecord]) -> None:
        for record in run:
            try:
                await send(record)
            except Exception as error:  # any failure: the record stays unsent and is retried
                outcome.errors.append(error)
                return
            outcome.published_ids.append(record.id)

    await asyncio.gather(*(publish_run(run) for run in group_by_key(records)))
    outcome.published_ids.sort()
    return outcome
