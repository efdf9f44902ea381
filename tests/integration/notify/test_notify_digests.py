"""Grouping and digests against real Postgres, Kafka and receivers, by a controllable
clock: a storm becomes one signed digest per group, retried with the same webhook-id;
group_interval spaces later digests; the cap splits a digest; quiet hours hold grouped
events until the calendar opens; events consumed from Kafka make one digest; two flushers
never send a group twice; Slack and a real SMTP server (aiosmtpd) get rendered digests;
bad grouping settings are 422s naming the field."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from aftercare_notify.digests import flush_due_groups
from aftercare_notify.domain.grouping import DIGEST_EVENT_TYPE
from aftercare_notify.models import DigestGroup, DigestItem
from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.clock import FrozenClock, use_clock, utc_now
from aftercare_shared.events import STRUCTURED_CONTENT_TYPE, CloudEvent
from aftercare_shared.events.catalog import Priority, SlaAtRisk, SlaClientPlanAssigned
from aftercare_shared.events.factory import new_event
from aftercare_shared.topics import EVENT_TOPICS, SLA, ensure_topics
from devkit.databases import kafka_bootstrap_servers
from devkit.kafka_groups import start_groups_at_the_end
from devkit.webhook_receiver import ReceivedWebhook
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
from tests.integration.notify.slack_support import SlackReceiver
from tests.integration.notify.smtp_support import RecordingHandler, smtp_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday, noon
# Saturday 28 November 2026, 10:00 in London (UTC in winter); the office opens Monday 09:00.
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WEEKDAYS_9_TO_5 = BusinessCalendar.from_json(
    {
        "timezone": "Europe/London",
        "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
).to_json()
FAST = {"delivery_worker_enabled": True, "digest_flush_interval_seconds": 0.05}


def at_risk(client_id: str, priority: Priority = "P2", *, at: datetime = START) -> CloudEvent:
    ticket_id = str(uuid.uuid4())
    payload = SlaAtRisk(
        ticket_id=ticket_id,
        client_id=client_id,
        metric="first_response",
        plan_id="gold",
        priority=priority,
        started_at=at - timedelta(hours=1),
        due_at=at + timedelta(minutes=15),
        occurred_at=at,
    )
    return new_event(payload, service="sla", subject=ticket_id, client_id=client_id)


def digests(received: list[ReceivedWebhook]) -> list[ReceivedWebhook]:
    return [item for item in received if item.event.get("type") == DIGEST_EVENT_TYPE]


async def groups_of(notify: RunningNotify, endpoint_id: str) -> list[DigestGroup]:
    async with notify.session_factory() as session:
        rows = await session.execute(
            sa.select(DigestGroup).where(DigestGroup.endpoint_id == endpoint_id)
        )
        return list(rows.scalars())


async def test_a_storm_becomes_one_signed_digest_per_group_retried_with_its_webhook_id() -> None:
    # Signatures are checked against the receiver's real clock (5 minutes' tolerance).
    start = utc_now().replace(microsecond=0)
    clock = FrozenClock(start)
    async with (
        migrated_notify_database() as url,
        started_receiver() as receiver,
        running_notify(notify_settings_for(url, **FAST)) as notify,
    ):
        with use_clock(clock):
            endpoint = await notify.create_endpoint(
                url=receiver.url,
                event_types=["sla.at_risk", "ticket.created"],
                group_by=["client_id", "type"],
                group_wait_seconds=30,
                group_interval_seconds=600,
            )
            assert endpoint["group_by"] == ["client_id", "type"]
            assert endpoint["group_max_events"] is None
            receiver.secret = endpoint["secret"]
            receiver.verify_signatures = True
            first, second = unique_client_id(), unique_client_id()
            storm = [at_risk(first) for _ in range(5)]
            others = [at_risk(second), at_risk(second)]
            ticket = ticket_created(first)
            for event in [*storm, *others, ticket]:
                await notify.fan_out(event)

            # Within group_wait nothing is sent: three groups wait for start + 30 s.
            groups = await groups_of(notify, endpoint["id"])
            assert sorted((g.labels["client_id"], g.labels["type"]) for g in groups) == sorted(
                [(first, "sla.at_risk"), (second, "sla.at_risk"), (first, "ticket.created")]
            )
            assert {g.flush_at for g in groups} == {start + timedelta(seconds=30)}
            assert await notify.deliveries(endpoint["id"]) == []

            receiver.answer_next(503)  # the first digest to arrive is refused once
            clock.set(start + timedelta(seconds=30))
            await receiver.wait_for(3)
            clock.advance(timedelta(seconds=1))  # the retry schedule's 0.2 s
            await receiver.wait_for(4)
            assert receiver.rejected == []

            by_id: dict[str, list[ReceivedWebhook]] = {}
            for item in digests(receiver.received):
                by_id.setdefault(item.webhook_id, []).append(item)
            assert len(by_id) == 3
            # The refused one came again with the same webhook-id and the same body.
            (retried,) = [items for items in by_id.values() if len(items) == 2]
            assert retried[0].body == retried[1].body
            bodies = {
                (items[0].event["group"]["client_id"], items[0].event["group"]["type"]): items[0]
                for items in by_id.values()
            }
            storm_digest = bodies[(first, "sla.at_risk")]
            assert storm_digest.headers["content-type"] == "application/json"
            assert storm_digest.event["id"] == storm_digest.webhook_id
            assert storm_digest.event["endpoint_id"] == endpoint["id"]
            assert storm_digest.event["count"] == 5
            assert (storm_digest.event["part"], storm_digest.event["parts"]) == (1, 1)
            # Each event is the CloudEvent an ungrouped endpoint would get, in order.
            assert storm_digest.event["events"] == [orjson.loads(e.to_json_bytes()) for e in storm]
            assert [e["id"] for e in bodies[(second, "sla.at_risk")].event["events"]] == [
                e.id for e in others
            ]
            assert [e["id"] for e in bodies[(first, "ticket.created")].event["events"]] == [
                ticket.id
            ]

            # The deliveries API lists the digests like any delivery.
            deliveries = await eventually(
                lambda: notify.deliveries(endpoint["id"]),
                lambda items: all(item["status"] == "succeeded" for item in items),
            )
            assert {item["message_id"] for item in deliveries} == set(by_id)
            assert {item["event_type"] for item in deliveries} == {DIGEST_EVENT_TYPE}

            # More of the storm: the next digest waits group_interval after the last one
            # (ten minutes on, beyond the receiver's signature tolerance).
            receiver.verify_signatures = False
            late = [at_risk(first), at_risk(first)]
            clock.set(start + timedelta(seconds=40))
            for event in late:
                await notify.fan_out(event)
            (group,) = [
                g
                for g in await groups_of(notify, endpoint["id"])
                if g.labels == {"client_id": first, "type": "sla.at_risk"}
            ]
            assert group.last_flushed_at is not None
            assert group.flush_at == group.last_flushed_at + timedelta(seconds=600)
            clock.set(group.flush_at)
            arrived = await receiver.wait_for(5)
            assert [e["id"] for e in digests(arrived)[-1].event["events"]] == [e.id for e in late]


async def test_the_cap_splits_a_digest_and_quiet_hours_hold_grouped_events() -> None:
    clock = FrozenClock(SATURDAY)
    async with (
        migrated_notify_database() as url,
        started_receiver() as receiver,
        running_notify(notify_settings_for(url, **FAST)) as notify,
    ):
        with use_clock(clock):
            client_id = unique_client_id()
            await notify.fan_out(
                new_event(
                    SlaClientPlanAssigned(
                        client_id=client_id,
                        plan_id="gold",
                        calendar=WEEKDAYS_9_TO_5,
                        assigned_at=SATURDAY - timedelta(days=30),
                    ),
                    service="sla",
                    subject=client_id,
                    client_id=client_id,
                )
            )
            endpoint = await notify.create_endpoint(
                url=receiver.url,
                event_types=["sla.*"],
                group_by=["client_id"],
                group_wait_seconds=10,
                group_max_events=2,
                deliver="business_hours",
                except_priorities=["P1"],
            )
            weekend = [at_risk(client_id, "P3", at=SATURDAY) for _ in range(3)]
            page = at_risk(client_id, "P1", at=SATURDAY)
            for event in [*weekend, page]:
                await notify.fan_out(event)

            # The P1 is released at once and goes after group_wait; the P3s are held.
            clock.set(SATURDAY + timedelta(seconds=10))
            (paged,) = digests(await receiver.wait_for(1))
            assert [e["id"] for e in paged.event["events"]] == [page.id]
            (group,) = await groups_of(notify, endpoint["id"])
            assert group.flush_at == MONDAY_OPENING + timedelta(seconds=10)

            # Monday: the held events come as a digest of 2 + 1 (the cap is 2).
            clock.set(MONDAY_OPENING + timedelta(seconds=10))
            arrived = digests(await receiver.wait_for(3))[1:]
            assert sorted((item.event["part"], item.event["parts"]) for item in arrived) == [
                (1, 2),
                (2, 2),
            ]
            listed = sorted(arrived, key=lambda item: int(item.event["part"]))
            assert [e["id"] for item in listed for e in item.event["events"]] == [
                e.id for e in weekend
            ]
            assert len({item.webhook_id for item in arrived}) == 2


async def test_two_flushers_never_send_a_group_twice() -> None:
    clock = FrozenClock(START)
    async with (
        migrated_notify_database() as url,
        started_receiver() as receiver,
        running_notify(notify_settings_for(url, **FAST)) as notify,
    ):
        with use_clock(clock):
            endpoint = await notify.create_endpoint(
                url=receiver.url, event_types=["sla.at_risk"], group_by=["client_id"]
            )
            clients = [unique_client_id() for _ in range(20)]
            for client_id in clients:
                await notify.fan_out(at_risk(client_id))
            clock.set(START + timedelta(seconds=30))
            # Two more flushers beside the app's own job, all at once (SKIP LOCKED).
            schedule = notify.settings.parsed_retry_schedule
            await asyncio.gather(
                *(
                    flush_due_groups(notify.session_factory, schedule=schedule, batch_size=5)
                    for _ in range(2)
                )
            )
            arrived = await receiver.wait_for(20)
            deliveries = await eventually(
                lambda: notify.deliveries(endpoint["id"]),
                lambda items: (
                    len(items) >= 20 and all(item["status"] == "succeeded" for item in items)
                ),
            )
            assert len(deliveries) == 20
            assert sorted(item.event["group"]["client_id"] for item in digests(arrived)) == sorted(
                clients
            )


async def test_slack_and_email_get_rendered_digests() -> None:
    clock = FrozenClock(START)
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        async with (
            migrated_notify_database() as url,
            running_notify(
                notify_settings_for(
                    url,
                    smtp_url=f"smtp://127.0.0.1:{port}",
                    smtp_starttls=False,
                    mail_from="alerts@agency.example",
                    **FAST,
                )
            ) as notify,
        ):
            slack = SlackReceiver()
            await slack.start()
            try:
                with use_clock(clock):
                    client_id = unique_client_id()
                    mail = await notify.create_endpoint(
                        channel="email",
                        address="ops@client.example",
                        event_types=["sla.at_risk"],
                        group_by=["client_id", "type"],
                    )
                    chat = await notify.create_endpoint(
                        channel="slack",
                        url=slack.url,
                        event_types=["sla.at_risk"],
                        group_by=["client_id", "type"],
                    )
                    storm = [at_risk(client_id, "P2") for _ in range(3)]
                    for event in storm:
                        await notify.fan_out(event)
                    clock.set(START + timedelta(seconds=30))
                    (message,) = (await slack.wait_for(1))[:1]
                    (mail_delivery,) = await eventually(
                        lambda: notify.deliveries(mail["id"]),
                        lambda items: [item["status"] for item in items] == ["succeeded"],
                    )
            finally:
                await slack.stop()
        assert slack.refusals == 0
        headline = f"3 events sla.at_risk for {client_id}"
        chat_body: dict[str, Any] = message.event
        assert chat_body["text"] == headline
        ticket_lines = [block for block in chat_body["blocks"] if block["type"] == "section"]
        assert len(ticket_lines) == 3
        (mailed,) = handler.messages
        assert mailed["Subject"] == f"[Aftercare] {headline}"
        assert (
            mailed["Message-ID"] == f"<{mail_delivery['message_id']}.{mail['id']}@agency.example>"
        )
        plain = mailed.get_body(("plain",))
        html = mailed.get_body(("html",))
        assert plain is not None
        assert html is not None
        for event in storm:
            assert event.id in plain.get_content()
            assert event.id in html.get_content()
        assert chat["group_by"] == ["client_id", "type"]


async def test_grouping_settings_are_validated_naming_the_field() -> None:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url)) as notify,
    ):

        async def refused(body: dict[str, Any], *, method: str = "POST", path: str = "") -> Any:
            response = await notify.client.request(
                method, f"/v1/endpoints{path}", json=body, headers=STAFF
            )
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == "application/problem+json"
            return response.json()

        base = {"url": "http://127.0.0.1:9/hooks", "event_types": ["sla.*"]}
        problem = await refused({**base, "group_wait_seconds": 10})
        assert problem["type"].endswith("/invalid-grouping")
        assert problem["field"] == "group_wait_seconds"
        problem = await refused({**base, "group_by": ["client_id", "client_id"]})
        assert (problem["field"], problem["type"].rsplit("/", 1)[1]) == (
            "group_by",
            "invalid-grouping",
        )
        problem = await refused({**base, "group_by": ["title"]})
        assert problem["errors"][0]["location"] == "body.group_by.0"
        problem = await refused({**base, "group_by": [], "group_interval_seconds": 0})
        assert problem["errors"][0]["location"] == "body.group_interval_seconds"
        problem = await refused({**base, "group_by": [], "group_max_events": 1001})
        assert problem["errors"][0]["location"] == "body.group_max_events"

        created = await notify.create_endpoint(**base, group_by=[], group_wait_seconds=0)
        assert (created["group_by"], created["group_wait_seconds"]) == ([], 0)
        path = f"/{created['id']}"
        problem = await refused(
            {"group_by": None, "group_max_events": 5}, method="PATCH", path=path
        )
        assert problem["field"] == "group_max_events"
        # Ungrouping clears the timings it does not mention.
        response = await notify.client.patch(
            f"/v1/endpoints{path}", json={"group_by": None}, headers=STAFF
        )
        assert response.status_code == 200, response.text
        assert (response.json()["group_by"], response.json()["group_wait_seconds"]) == (None, None)

        # Disabling an endpoint drops what waits in its groups, as it cancels deliveries.
        grouped = await notify.create_endpoint(**base, group_by=["client_id"])
        await notify.fan_out(at_risk(unique_client_id()))
        assert len(await groups_of(notify, grouped["id"])) == 1
        response = await notify.client.patch(
            f"/v1/endpoints/{grouped['id']}", json={"status": "disabled"}, headers=STAFF
        )
        assert response.status_code == 200, response.text
        assert await groups_of(notify, grouped["id"]) == []


async def test_events_from_kafka_make_one_verified_digest() -> None:
    await ensure_topics(
        kafka_bootstrap_servers(), partitions=6, replication_factor=1, topics=EVENT_TOPICS
    )
    group_id = f"aftercare-notify-test-{uuid.uuid4().hex[:12]}"
    await start_groups_at_the_end(group_id)
    start = utc_now().replace(microsecond=0)
    clock = FrozenClock(start)
    async with migrated_notify_database() as url, started_receiver() as receiver:
        settings = notify_settings_for(url, consumer_enabled=True, consumer_group=group_id, **FAST)
        async with running_notify(settings) as notify:
            with use_clock(clock):
                client_id = unique_client_id()
                endpoint = await notify.create_endpoint(
                    url=receiver.url, event_types=["sla.at_risk"], group_by=["client_id"]
                )
                receiver.secret = endpoint["secret"]
                receiver.verify_signatures = True
                storm = [at_risk(client_id, at=start) for _ in range(3)]
                producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers(), acks="all")
                await producer.start()
                try:
                    for event in storm:
                        await producer.send_and_wait(
                            SLA,
                            value=event.to_json_bytes(),
                            key=event.subject.encode(),
                            headers=[("content-type", STRUCTURED_CONTENT_TYPE.encode())],
                        )
                finally:
                    await producer.stop()

                async def waiting() -> int:
                    async with notify.session_factory() as session:
                        count = await session.scalar(
                            sa.select(sa.func.count()).select_from(DigestItem)
                        )
                    return int(count or 0)

                await eventually(waiting, lambda count: count == 3, within_seconds=60)
                clock.set(start + timedelta(seconds=30))
                (digest,) = await receiver.wait_for(1)
    assert receiver.rejected == []
    assert digest.event["group"] == {"client_id": client_id}
    assert sorted(e["id"] for e in digest.event["events"]) == sorted(e.id for e in storm)
