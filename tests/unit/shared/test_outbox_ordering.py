"""Per-key ordering of an outbox batch, with a fake Kafka send."""

from __future__ import annotations

import asyncio
import random

import pytest

from aftercare_shared.outbox.leader import relay_lock_key
from aftercare_shared.outbox.ordering import OutboxRecord, group_by_key, publish_in_key_order
from aftercare_shared.outbox.relay import kafka_headers


def record(record_id: int, key: str, topic: str = "aftercare.tickets") -> OutboxRecord:
    return OutboxRecord(id=record_id, topic=topic, record_key=key, payload=b"{}")


class FakeKafka:
    """Acknowledges after a random delay (so keys interleave); can refuse given ids."""

    def __init__(self, *, refuse: set[int] | None = None, seed: int = 7) -> None:
        self.sent: list[OutboxRecord] = []
        self._refuse = refuse or set()
        self._random = random.Random(seed)

    async def send(self, outbox_record: OutboxRecord) -> None:
        await asyncio.sleep(self._random.random() / 1000)
        if outbox_record.id in self._refuse:
            raise ConnectionError(f"broker refused {outbox_record.id}")
        self.sent.append(outbox_record)

    def ids_for(self, key: str) -> list[int]:
        return [sent.id for sent in self.sent if sent.record_key == key]


def test_group_by_key_keeps_id_order_within_each_key() -> None:
    runs = group_by_key([record(5, "b"), record(1, "a"), record(3, "b"), record(2, "a")])

    assert [[r.id for r in run] for run in runs] == [[1, 2], [3, 5]]


def test_group_by_key_separates_topics_sharing_a_key() -> None:
    runs = group_by_key([record(1, "x", "aftercare.tickets"), record(2, "x", "aftercare.sla")])

    assert [[r.id for r in run] for run in runs] == [[1], [2]]


async def test_every_key_is_sent_in_id_order_while_keys_interleave() -> None:
    records = [record(record_id, f"ticket-{record_id % 4}") for record_id in range(1, 41)]
    kafka = FakeKafka()

    outcome = await publish_in_key_order(records, kafka.send)

    assert outcome.published_ids == list(range(1, 41))
    assert not outcome.failed
    for key_number in range(4):
        key = f"ticket-{key_number}"
        assert kafka.ids_for(key) == sorted(kafka.ids_for(key))
    assert [sent.id for sent in kafka.sent] != list(range(1, 41)), "keys should interleave"


async def test_a_refused_record_holds_back_its_key_but_not_other_keys() -> None:
    records = [record(1, "a"), record(2, "b"), record(3, "a"), record(4, "b"), record(5, "a")]
    kafka = FakeKafka(refuse={3})

    outcome = await publish_in_key_order(records, kafka.send)

    assert outcome.published_ids == [1, 2, 4]
    assert kafka.ids_for("a") == [1], "5 must not overtake the unsent 3"
    assert kafka.ids_for("b") == [2, 4]
    assert outcome.failed
    assert isinstance(outcome.errors[0], ConnectionError)


async def test_an_empty_batch_publishes_nothing() -> None:
    outcome = await publish_in_key_order([], FakeKafka().send)

    assert outcome.published_ids == []
    assert not outcome.failed


def test_kafka_headers_declare_structured_cloudevents_and_keep_the_trace() -> None:
    traced = OutboxRecord(
        id=1,
        topic="aftercare.tickets",
        record_key="t-1",
        payload=b"{}",
        headers={"traceparent": "00-abc-def-01", "content-type": "text/plain"},
    )

    assert dict(kafka_headers(traced)) == {
        "traceparent": b"00-abc-def-01",
        "content-type": b"application/cloudevents+json",
    }


@pytest.mark.parametrize("schema", ["intake", "sla", "releases", "notify"])
def test_relay_lock_key_is_stable_and_fits_a_postgres_bigint(schema: str) -> None:
    assert relay_lock_key(schema) == relay_lock_key(schema)
    assert -(2**63) <= relay_lock_key(schema) < 2**63
    assert relay_lock_key(schema) != relay_lock_key(schema + "x")
