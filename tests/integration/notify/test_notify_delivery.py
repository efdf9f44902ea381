"""Delivery to a real HTTP receiver on 127.0.0.1, verified with ``standardwebhooks``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook

from aftercare_notify import use_cases
from aftercare_notify.models import OUTBOX, Delivery, Endpoint
from aftercare_notify.workers import DeliveryWorker
from aftercare_shared.clock import FrozenClock, use_clock, utc_now
from aftercare_shared.url_guard import UrlGuard
from devkit.webhook_receiver import WebhookReceiver
from tests.integration.notify.notify_support import (
    STAFF,
    RunningNotify,
    eventually,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    started_receiver,
    ticket_created,
    unique_client_id,
)
from tests.support.infra import holds_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@asynccontextmanager
async def delivering(**overrides: Any) -> AsyncIterator[tuple[RunningNotify, WebhookReceiver]]:
    """Notify with its delivery worker running, plus a receiver to deliver to."""
    async with (
        migrated_notify_database() as url,
        started_receiver() as receiver,
        running_notify(
            notify_settings_for(url, delivery_worker_enabled=True, **overrides)
        ) as running,
    ):
        yield running, receiver


async def _subscribe(
    notify: RunningNotify, receiver: WebhookReceiver, **extra: Any
) -> dict[str, Any]:
    client_id = extra.pop("client_id", unique_client_id())
    return await notify.create_endpoint(
        url=receiver.url, event_types=["ticket.*"], client_id=client_id, **extra
    )


async def _only_delivery(notify: RunningNotify, endpoint_id: str, status: str) -> dict[str, Any]:
    deliveries = await eventually(
        lambda: notify.deliveries(endpoint_id),
        lambda items: len(items) == 1 and items[0]["status"] == status,
    )
    return deliveries[0]


async def test_delivers_the_signed_cloudevent() -> None:
    async with delivering() as (notify, receiver):
        endpoint = await _subscribe(notify, receiver)
        event = ticket_created(endpoint["client_id"])
        await notify.fan_out(event)

        (request,) = await receiver.wait_for(1)
        assert request.method == "POST"
        assert request.path == "/hooks"  # the path of the subscribed URL
        assert request.body == event.to_json_bytes()
        assert request.headers["content-type"] == "application/cloudevents+json"
        assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
        assert request.headers["webhook-id"] == event.id
        payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert payload["id"] == event.id
        assert payload["type"] == "aftercare.ticket.created.v1"

        delivery = await _only_delivery(notify, endpoint["id"], "succeeded")
        assert delivery["message_id"] == event.id
        assert delivery["event_type"] == event.type
        assert delivery["attempt_count"] == 1
        (attempt,) = delivery["attempts"]
        assert attempt["succeeded"] is True
        assert attempt["status_code"] == 200
        assert attempt["latency_ms"] >= 0
        assert attempt["response_body"] == "thanks"
        assert attempt["error"] is None
        single = await notify.client.get(f"/v1/deliveries/{delivery['id']}", headers=STAFF)
        assert single.json()["attempts"] == delivery["attempts"]

        # A success on a healthy endpoint is not news: no outcome event at all.
        async with notify.session_factory() as session:
            outbox_rows = (
                await session.execute(sa.select(sa.func.count()).select_from(OUTBOX))
            ).scalar_one()
        assert outbox_rows == 0


async def test_retries_after_500_with_the_same_webhook_id() -> None:
    async with delivering(retry_schedule="0,0.3,0.3") as (notify, receiver):
        endpoint = await _subscribe(notify, receiver)
        receiver.answer_next(500)
        event = ticket_created(endpoint["client_id"])
        await notify.fan_out(event)

        first, second = await receiver.wait_for(2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == event.id
        assert second.received_at - first.received_at >= 0.25  # the schedule's wait
        for request in (first, second):
            Webhook(endpoint["secret"]).verify(request.body, request.headers)
        delivery = await _only_delivery(notify, endpoint["id"], "succeeded")
        assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 200]
        assert [attempt["attempt_number"] for attempt in delivery["attempts"]] == [1, 2]
        assert delivery["attempts"][0]["succeeded"] is False

        # The streak is news twice: when it starts and when it ends.
        (failing,) = await notify.outbox_events("aftercare.notification.endpoint_failing.v1")
        (recovered,) = await notify.outbox_events("aftercare.notification.endpoint_recovered.v1")
        assert failing.subject == recovered.subject == endpoint["id"]
        assert failing.data["last_error"] == "HTTP 500"
        assert failing.data["delivery_id"] == recovered.data["delivery_id"] == delivery["id"]
        assert recovered.data["failing_since"] == failing.data["failing_since"]
        assert failing.clientid == endpoint["client_id"]


async def test_exhausted_schedule_fails_then_manual_retry_succeeds() -> None:
    async with delivering(retry_schedule="0,0.1,0.1", response_body_max_bytes=16) as (
        notify,
        receiver,
    ):
        receiver.default_status = 500
        receiver.response_body = b"x" * 5000
        endpoint = await _subscribe(notify, receiver)
        event = ticket_created(endpoint["client_id"])
        await notify.fan_out(event)

        delivery = await _only_delivery(notify, endpoint["id"], "failed")
        assert delivery["attempt_count"] == 3
        assert delivery["last_error"] == "HTTP 500"
        assert delivery["next_attempt_at"] is None
        assert all(attempt["response_body"] == "x" * 16 for attempt in delivery["attempts"])
        (failed,) = await notify.outbox_events("aftercare.notification.failed.v1")
        assert failed.data["attempts"] == 3
        assert failed.data["message_id"] == event.id
        # Nothing after the last scheduled attempt: watched for 2 s, ten times the
        # schedule's longest gap.
        await holds_for(lambda: _received(receiver, 3), seconds=2.0, message="3 requests")

        receiver.default_status = 204
        retried = await notify.client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=STAFF)
        assert retried.status_code == 202, retried.text
        await _only_delivery(notify, endpoint["id"], "succeeded")
        requests = await receiver.wait_for(4)
        assert {request.headers["webhook-id"] for request in requests} == {event.id}


async def test_410_gone_disables_the_endpoint() -> None:
    async with delivering() as (notify, receiver):
        receiver.default_status = 410
        endpoint = await _subscribe(notify, receiver)
        await notify.fan_out(ticket_created(endpoint["client_id"]))

        await _only_delivery(notify, endpoint["id"], "failed")
        current = await eventually(
            lambda: notify.client.get(f"/v1/endpoints/{endpoint['id']}", headers=STAFF),
            lambda response: response.json()["status"] == "disabled",
        )
        assert "410" in current.json()["disabled_reason"]
        (disabled,) = await notify.outbox_events("aftercare.notification.endpoint_disabled.v1")
        assert disabled.data["endpoint_id"] == endpoint["id"]

        later = ticket_created(endpoint["client_id"])
        await notify.fan_out(later)
        assert len(await notify.deliveries(endpoint["id"])) == 1  # nothing new for it
        retry = await notify.client.post(
            f"/v1/deliveries/{(await notify.deliveries(endpoint['id']))[0]['id']}/retry",
            headers=STAFF,
        )
        assert retry.status_code == 409
        assert retry.json()["type"] == "https://aftercare.dev/problems/conflict"
        assert "disabled" in retry.json()["detail"]


async def test_endpoint_failing_for_too_long_is_disabled() -> None:
    """Attempts a minute apart against a 150 s window, on a clock the test moves: the
    fourth attempt (at 180 s) is the first one past the window, however slow the machine."""
    async with delivering(retry_schedule="0,60,60,60,60,60", disable_after_seconds=150) as (
        notify,
        receiver,
    ):
        receiver.default_status = 503
        endpoint = await _subscribe(notify, receiver)
        with use_clock(FrozenClock(utc_now())) as clock:
            await notify.fan_out(ticket_created(endpoint["client_id"]))
            for attempts in range(1, 4):
                await _attempts_recorded(notify, endpoint["id"], attempts)
                clock.advance(timedelta(seconds=60))
            delivery = await _only_delivery(notify, endpoint["id"], "failed")
        assert delivery["attempt_count"] == 4
        assert len(receiver.received) == 4
        current = await notify.client.get(f"/v1/endpoints/{endpoint['id']}", headers=STAFF)
        assert current.json()["status"] == "disabled"
        assert "failed since" in current.json()["disabled_reason"]
        (disabled,) = await notify.outbox_events("aftercare.notification.endpoint_disabled.v1")
        assert disabled.data["endpoint_id"] == endpoint["id"]


async def test_disabling_cancels_waiting_retries() -> None:
    async with delivering(retry_schedule="0,60") as (notify, receiver):
        receiver.default_status = 500
        endpoint = await _subscribe(notify, receiver)
        await notify.fan_out(ticket_created(endpoint["client_id"]))
        waiting = await eventually(
            lambda: notify.deliveries(endpoint["id"]),
            lambda items: (
                len(items) == 1
                and items[0]["attempt_count"] == 1
                and items[0]["status"] == "pending"
                and items[0]["attempts"]
            ),
        )
        assert waiting[0]["next_attempt_at"] is not None
        await notify.client.patch(
            f"/v1/endpoints/{endpoint['id']}", json={"status": "disabled"}, headers=STAFF
        )
        (cancelled,) = await notify.deliveries(endpoint["id"])
        assert cancelled["status"] == "cancelled"
        assert cancelled["last_error"].startswith("endpoint disabled")


async def test_rotation_signs_with_both_secrets_during_the_overlap() -> None:
    async with delivering() as (notify, receiver):
        endpoint = await _subscribe(notify, receiver)
        rotated = await notify.client.post(
            f"/v1/endpoints/{endpoint['id']}/rotate-secret", headers=STAFF
        )
        new_secret = rotated.json()["secret"]
        await notify.fan_out(ticket_created(endpoint["client_id"]))

        (request,) = await receiver.wait_for(1)
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        Webhook(endpoint["secret"]).verify(request.body, request.headers)
        Webhook(new_secret).verify(request.body, request.headers)


async def test_replay_resends_since_a_time_including_missed_messages() -> None:
    async with delivering() as (notify, receiver):
        client_id = unique_client_id()
        since = utc_now() - timedelta(seconds=1)
        before_endpoint = ticket_created(client_id)
        await notify.fan_out(before_endpoint)  # nobody subscribed yet
        endpoint = await _subscribe(notify, receiver, client_id=client_id)
        delivered = ticket_created(client_id)
        await notify.fan_out(delivered)
        await receiver.wait_for(1)
        await _only_delivery(notify, endpoint["id"], "succeeded")

        future = await notify.client.post(
            f"/v1/endpoints/{endpoint['id']}/replay",
            json={"since": (utc_now() + timedelta(hours=1)).isoformat()},
            headers=STAFF,
        )
        assert future.json()["enqueued"] == 0
        replay = await notify.client.post(
            f"/v1/endpoints/{endpoint['id']}/replay",
            json={"since": since.isoformat()},
            headers=STAFF,
        )
        assert replay.status_code == 202, replay.text
        assert replay.json()["enqueued"] == 2
        requests = await receiver.wait_for(3)
        ids = [request.headers["webhook-id"] for request in requests]
        assert sorted(ids) == sorted([delivered.id, delivered.id, before_endpoint.id])
        await eventually(
            lambda: notify.deliveries(endpoint["id"]),
            lambda items: len(items) == 2 and all(item["status"] == "succeeded" for item in items),
        )


async def test_ssrf_is_checked_again_at_delivery() -> None:
    """An endpoint stored earlier whose host now points inside is refused when sending."""
    async with delivering(ssrf_allowlist="") as (notify, receiver):
        client_id = unique_client_id()
        now = utc_now()
        async with notify.session_factory() as session:
            # Created while the host was public; since then it resolves to loopback.
            session.add(
                Endpoint(
                    id="rebound",
                    url=receiver.url,
                    channel="webhook",
                    event_types=["*"],
                    client_id=client_id,
                    status="enabled",
                    secret="whsec_" + "QUJD" * 8,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.commit()
        await notify.fan_out(ticket_created(client_id))

        delivery = await _only_delivery(notify, "rebound", "failed")
        assert all(attempt["error"].startswith("ssrf: ") for attempt in delivery["attempts"])
        assert all(attempt["status_code"] is None for attempt in delivery["attempts"])
        assert receiver.received == []


async def test_an_expired_lease_makes_the_delivery_due_again() -> None:
    """A worker that claimed and died: after the lease the delivery is attempted again.

    On a clock the test moves: a live worker leaves the claimed delivery alone while the
    lease holds (watched for 2 s of real time), and sends it once the clock passes it.
    """
    async with migrated_notify_database() as url, started_receiver() as receiver:
        settings = notify_settings_for(url)  # no worker in the app: we play the crashed one
        async with running_notify(settings) as notify:
            endpoint = await _subscribe(notify, receiver)
            worker = DeliveryWorker(
                session_factory=notify.session_factory,
                settings=settings,
                guard=UrlGuard(allowlist=settings.parsed_ssrf_allowlist, dns_timeout_seconds=2),
            )
            with use_clock(FrozenClock(utc_now())) as clock:
                await notify.fan_out(ticket_created(endpoint["client_id"]))
                async with notify.session_factory() as session:
                    (claimed,) = await use_cases.claim_due_deliveries(
                        session=session, now=utc_now(), lease=timedelta(seconds=60), limit=10
                    )
                running = asyncio.create_task(worker.run())
                try:
                    await holds_for(lambda: _received(receiver, 0), seconds=2.0, message="no send")
                    clock.advance(timedelta(seconds=59))
                    await holds_for(lambda: _received(receiver, 0), seconds=1.0, message="no send")
                    clock.advance(timedelta(seconds=1))
                    (request,) = await receiver.wait_for(1)
                    delivery = await _only_delivery(notify, endpoint["id"], "succeeded")
                    assert delivery["attempt_count"] == 2  # the lost attempt counts
                    assert request.headers["webhook-id"] == claimed.message_id
                finally:
                    await worker.stop()
                    await asyncio.wait_for(running, 10)


async def test_stopping_finishes_requests_in_flight() -> None:
    async with migrated_notify_database() as url, started_receiver() as receiver:
        receiver.response_delay_seconds = 1.0
        settings = notify_settings_for(url, delivery_worker_enabled=True)
        async with running_notify(settings) as notify:
            endpoint = await _subscribe(notify, receiver)
            await notify.fan_out(ticket_created(endpoint["client_id"]))
            await receiver.wait_for(1)
        # The app has shut down; the answer that came during shutdown was recorded.
        engine = create_async_engine(settings.common.database_url)
        try:
            async with engine.connect() as connection:
                status = await connection.scalar(
                    sa.select(Delivery.status).where(Delivery.endpoint_id == endpoint["id"])
                )
        finally:
            await engine.dispose()
        assert status == "succeeded"


async def test_a_short_lease_is_renewed_while_a_slow_attempt_runs() -> None:
    """A 3 s lease and a receiver taking twice that: the worker keeps renewing the lease,
    so no second claim sends the delivery again while the first request still runs (a
    crashed worker's delivery is then due again within 3 s, not 120)."""
    async with delivering(delivery_lease_seconds=3, delivery_timeout_seconds=15) as (
        notify,
        receiver,
    ):
        receiver.response_delay_seconds = 6.0
        endpoint = await _subscribe(notify, receiver)
        await notify.fan_out(ticket_created(endpoint["client_id"]))
        delivery = await _only_delivery(notify, endpoint["id"], "succeeded")
        assert delivery["attempt_count"] == 1
        assert len(receiver.received) == 1


async def _received(receiver: WebhookReceiver, count: int) -> bool:
    return len(receiver.received) == count


async def _attempts_recorded(notify: RunningNotify, endpoint_id: str, count: int) -> None:
    """Wait until the only delivery has ``count`` recorded attempts (none in flight)."""

    def recorded(items: list[dict[str, Any]]) -> bool:
        return len(items[0]["attempts"]) == count and items[0]["status"] == "pending"

    await eventually(lambda: notify.deliveries(endpoint_id), recorded)
