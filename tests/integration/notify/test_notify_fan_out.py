"""Fan-out: which endpoints get a delivery for an event (handler called directly)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from aftercare_notify.jobs import PURGE_INTERVAL_SECONDS, retention_job
from aftercare_notify.models import CLIENT_API_KEYS, Delivery, DigestGroup, DigestItem, Message
from aftercare_shared.clock import FrozenClock, use_clock, utc_now
from aftercare_shared.consumer import PermanentEventError
from aftercare_shared.consumer.handlers import UNTYPED_RUN
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ClientApiKeyIssued, NotificationFailed, SlaBreached
from aftercare_shared.events.factory import new_event
from tests.integration.notify.notify_support import (
    STAFF,
    RunningNotify,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    ticket_created,
    unique_client_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def notify() -> AsyncIterator[RunningNotify]:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url)) as running,
    ):
        yield running


async def _deliveries_of(notify: RunningNotify, event: CloudEvent) -> set[str]:
    async with notify.session_factory() as session:
        rows = await session.execute(
            sa.select(Delivery.endpoint_id).where(Delivery.message_id == event.id)
        )
        return set(rows.scalars())


def _sla_breached(client_id: str) -> CloudEvent:
    now = utc_now()
    ticket_id = str(uuid.uuid4())
    payload = SlaBreached(
        ticket_id=ticket_id,
        client_id=client_id,
        metric="resolution",
        plan_id=None,
        priority="P1",
        started_at=now,
        due_at=now,
        occurred_at=now,
    )
    return new_event(payload, service="sla", subject=ticket_id, client_id=client_id)


def _notification_failed(endpoint_id: str) -> CloudEvent:
    payload = NotificationFailed(
        delivery_id=str(uuid.uuid4()),
        endpoint_id=endpoint_id,
        message_id=str(uuid.uuid4()),
        message_type="aftercare.ticket.created.v1",
        attempts=8,
        last_error="HTTP 500",
        failed_at=utc_now(),
    )
    return new_event(payload, service="notify", subject=payload.delivery_id)


async def test_patterns_and_client_scoping_select_the_endpoints(notify: RunningNotify) -> None:
    client_a, client_b = unique_client_id(), unique_client_id()
    url = "http://127.0.0.1:9/"
    everything = await notify.create_endpoint(url=url, event_types=["*"])
    tickets_only = await notify.create_endpoint(url=url, event_types=["ticket.created"])
    sla_of_a = await notify.create_endpoint(url=url, event_types=["sla.*"], client_id=client_a)
    all_of_b = await notify.create_endpoint(url=url, event_types=["*"], client_id=client_b)
    disabled = await notify.create_endpoint(url=url, event_types=["*"])
    await notify.client.patch(
        f"/v1/endpoints/{disabled['id']}", json={"status": "disabled"}, headers=STAFF
    )

    ticket_of_a = ticket_created(client_a)
    await notify.fan_out(ticket_of_a)
    assert await _deliveries_of(notify, ticket_of_a) == {everything["id"], tickets_only["id"]}

    breach_of_a = _sla_breached(client_a)
    await notify.fan_out(breach_of_a)
    assert await _deliveries_of(notify, breach_of_a) == {everything["id"], sla_of_a["id"]}

    breach_of_b = _sla_breached(client_b)
    await notify.fan_out(breach_of_b)
    assert await _deliveries_of(notify, breach_of_b) == {everything["id"], all_of_b["id"]}


async def _fanned_out(notify: RunningNotify, events: list[CloudEvent]) -> list[object]:
    """Per event, in order: the endpoints it got a delivery at and the digest groups
    (endpoint, labels) it joined."""
    async with notify.session_factory() as session:
        outcome: list[object] = []
        for event in events:
            groups = await session.execute(
                sa.select(DigestGroup.endpoint_id, DigestGroup.labels)
                .join(DigestItem, DigestItem.group_id == DigestGroup.id)
                .where(DigestItem.message_id == event.id)
            )
            outcome.append(
                (
                    await _deliveries_of(notify, event),
                    sorted((endpoint_id, str(labels)) for endpoint_id, labels in groups),
                )
            )
        return outcome


async def test_a_run_of_events_fans_out_as_the_same_events_one_by_one(
    notify: RunningNotify,
) -> None:
    """The consumer hands notify a run of events at once (one transaction, a few
    statements): each event must end with the deliveries and digest entries it gets
    alone, an event stored before included (it is not fanned out again)."""
    client_a, client_b = unique_client_id(), unique_client_id()
    url = "http://127.0.0.1:9/"
    await notify.create_endpoint(url=url, event_types=["*"])
    await notify.create_endpoint(url=url, event_types=["sla.*"], client_id=client_a)
    await notify.create_endpoint(url=url, event_types=["ticket.created"], min_priority="P1")
    watcher = await notify.create_endpoint(url=url, event_types=["notification.*"])
    await notify.create_endpoint(url=url, event_types=["sla.*"], group_by=["client_id"])

    def shapes() -> list[CloudEvent]:
        return [
            ticket_created(client_a),
            _sla_breached(client_a),
            _sla_breached(client_b),
            _sla_breached(client_a),  # the same digest group as the second
            _notification_failed(watcher["id"]),  # never sent to the endpoint it is about
            _notification_failed(str(uuid.uuid4())),
        ]

    alone = shapes()
    for event in alone:
        await notify.fan_out(event)
    together = shapes()
    seen_before = ticket_created(client_b)
    await notify.fan_out(seen_before)
    before = await _fanned_out(notify, [seen_before])
    lag = REGISTRY.get_sample_value("aftercare_notify_fanout_lag_seconds_count") or 0.0
    async with notify.session_factory() as session, session.begin():
        assert {notify.handlers.run_type(event) for event in [*together, seen_before]} == {
            UNTYPED_RUN
        }
        await notify.handlers.apply_run(session, [*together, seen_before])

    assert await _fanned_out(notify, together) == await _fanned_out(notify, alone)
    assert await _fanned_out(notify, [seen_before]) == before
    assert REGISTRY.get_sample_value("aftercare_notify_fanout_lag_seconds_count") == lag + 6


async def test_fan_out_is_idempotent_and_stores_the_exact_body(notify: RunningNotify) -> None:
    client_id = unique_client_id()
    await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    event = ticket_created(client_id)
    lag = REGISTRY.get_sample_value("aftercare_notify_fanout_lag_seconds_count") or 0.0
    await notify.fan_out(event)
    await notify.fan_out(event)
    assert REGISTRY.get_sample_value("aftercare_notify_fanout_lag_seconds_count") == lag + 1
    async with notify.session_factory() as session:
        message = await session.get(Message, event.id)
        assert message is not None
        assert message.body == event.to_json_bytes()
        assert (message.event_type, message.subject, message.client_id) == (
            event.type,
            event.subject,
            client_id,
        )
    assert len(await _deliveries_of(notify, event)) == 1


async def test_notification_events_never_loop_back(notify: RunningNotify) -> None:
    url = "http://127.0.0.1:9/"
    wildcard = await notify.create_endpoint(url=url, event_types=["*"])
    watcher = await notify.create_endpoint(url=url, event_types=["notification.*"])
    named = await notify.create_endpoint(url=url, event_types=["notification.failed"])

    about_watcher = _notification_failed(watcher["id"])
    await notify.fan_out(about_watcher)
    # `*` does not include notify's own events; nobody is told about their own failure.
    assert await _deliveries_of(notify, about_watcher) == {named["id"]}

    about_someone_else = _notification_failed(wildcard["id"])
    await notify.fan_out(about_someone_else)
    assert await _deliveries_of(notify, about_someone_else) == {watcher["id"], named["id"]}


async def _stored(notify: RunningNotify, event: CloudEvent) -> bool:
    async with notify.session_factory() as session:
        return await session.get(Message, event.id) is not None


@pytest.mark.parametrize(
    "change",
    [
        # A version this build does not know: not in the catalog, so not offered to anyone.
        {"type": "aftercare.ticket.created.v2"},
        {"type": "aftercare.ticket.exploded.v1"},
        # A catalog type whose payload does not match its schema is never sent on.
        {"data": {"ticket_id": "t-1"}},
    ],
)
async def test_events_outside_the_catalog_are_refused_for_the_dlq(
    notify: RunningNotify, change: dict[str, Any]
) -> None:
    await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    valid = ticket_created(unique_client_id())
    refused = valid.model_copy(update={"id": str(uuid.uuid4()), **change})
    with pytest.raises(PermanentEventError):
        await notify.fan_out(refused)
    assert not await _stored(notify, refused)
    assert await _deliveries_of(notify, refused) == set()
    await notify.fan_out(valid)  # the consumer goes on with the next event
    assert len(await _deliveries_of(notify, valid)) == 1


async def test_internal_key_events_are_never_offered_to_subscribers(
    notify: RunningNotify,
) -> None:
    await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["client.*"])
    client_id = unique_client_id()
    issued = ClientApiKeyIssued(
        api_key_id=f"key-{uuid.uuid4()}",
        client_id=client_id,
        key_hash=uuid.uuid4().hex,
        prefix="ak_test",
        created_at=utc_now(),
    )
    event = new_event(issued, service="intake", subject=client_id, client_id=client_id)
    await notify.fan_out(event)
    assert await _deliveries_of(notify, event) == set()
    async with notify.session_factory() as session:
        keys = await session.execute(
            sa.select(CLIENT_API_KEYS.c.client_id).where(
                CLIENT_API_KEYS.c.api_key_id == issued.api_key_id
            )
        )
        assert list(keys.scalars()) == [client_id]  # the read model got it


async def test_replay_skips_notification_events_about_the_endpoint_itself(
    notify: RunningNotify,
) -> None:
    since = utc_now()
    watcher = await notify.create_endpoint(
        url="http://127.0.0.1:9/", event_types=["notification.*"]
    )
    await notify.fan_out(_notification_failed(watcher["id"]))
    about_other = _notification_failed(str(uuid.uuid4()))
    await notify.fan_out(about_other)
    path = f"/v1/endpoints/{watcher['id']}"
    # Disabling cancels the pending delivery, so the replay has something to reopen.
    await notify.client.patch(path, json={"status": "disabled"}, headers=STAFF)
    await notify.client.patch(path, json={"status": "enabled"}, headers=STAFF)

    replay = await notify.client.post(
        f"{path}/replay", json={"since": since.isoformat()}, headers=STAFF
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["enqueued"] == 1
    (delivery,) = await notify.deliveries(watcher["id"])
    assert delivery["message_id"] == about_other.id
    assert delivery["status"] == "pending"


async def test_retention_purges_old_history_but_never_a_pending_delivery(
    notify: RunningNotify,
) -> None:
    await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    delivered, still_due, recent = (ticket_created(unique_client_id()) for _ in range(3))
    for event in (delivered, still_due, recent):
        await notify.fan_out(event)
    async with notify.session_factory() as session:
        old = datetime(2020, 1, 1, tzinfo=UTC)
        await session.execute(
            sa.update(Message)
            .where(Message.id.in_([delivered.id, still_due.id]))
            .values(received_at=old)
        )
        await session.execute(
            sa.update(Delivery)
            .where(Delivery.message_id == delivered.id)
            .values(status="succeeded", due_at=None)
        )
        await session.commit()

    job = retention_job(retention=timedelta(days=30))
    assert job.interval_seconds == PURGE_INTERVAL_SECONDS
    purged = await job.run(notify.session_factory)

    assert purged == 1
    async with notify.session_factory() as session:
        assert await session.get(Message, delivered.id) is None
        assert await session.get(Message, still_due.id) is not None
        assert await session.get(Message, recent.id) is not None
    assert await _deliveries_of(notify, delivered) == set()  # cascaded with the message


async def test_the_retention_window_is_measured_on_the_shared_clock(
    notify: RunningNotify,
) -> None:
    received = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    clock = FrozenClock(received)
    with use_clock(clock):
        event = ticket_created(unique_client_id())
        await notify.fan_out(event)  # no endpoint: nothing pending keeps it
        job = retention_job(retention=timedelta(days=30))
        clock.advance(timedelta(days=30))
        assert await job.run(notify.session_factory) == 0  # exactly 30 days: still kept
        assert await _stored(notify, event)
        clock.advance(timedelta(seconds=1))
        assert await job.run(notify.session_factory) == 1
    assert not await _stored(notify, event)
