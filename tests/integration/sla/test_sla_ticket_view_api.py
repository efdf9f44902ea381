"""A ticket's SLA over HTTP: tenant isolation, the no-plan view, and once through Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import ClientCreated, TicketResolved
from aftercare_sla.models import outbox
from devkit.databases import kafka_bootstrap_servers
from tests.integration.sla.sla_support import (
    STAFF,
    apply_events,
    as_event,
    client_with_plan,
    create_plan,
    seed_client_key,
    targets,
    ticket_created,
)

Sessions = async_sessionmaker[AsyncSession]


async def test_staff_see_a_ticket_clocks(api: httpx.AsyncClient, app_sessions: Sessions) -> None:
    plan_id = await create_plan(app_sessions, targets(60, 480))
    client_id = await client_with_plan(app_sessions, plan_id)
    created_at = utc_now() - timedelta(minutes=10)
    created = ticket_created(client_id, created_at, priority="P3")
    await apply_events(app_sessions, created)

    view = await api.get(f"/v1/tickets/{created.ticket_id}/sla", headers=STAFF)

    assert view.status_code == 200, view.text
    body = view.json()
    assert {key: body[key] for key in ("ticket_id", "client_id", "plan_id", "priority")} == {
        "ticket_id": created.ticket_id,
        "client_id": client_id,
        "plan_id": plan_id,
        "priority": "P3",
    }
    first_response, resolution = body["clocks"]
    assert first_response["metric"] == "first_response"
    assert resolution["metric"] == "resolution"
    assert first_response["state"] == "running"
    assert first_response["target_seconds"] == 3600
    assert first_response["stopped_at"] is None
    assert 595 <= first_response["elapsed_business_seconds"] <= 700
    assert first_response["remaining_business_seconds"] == (
        3600 - first_response["elapsed_business_seconds"]
    )


async def test_the_view_shows_how_clocks_ended_and_their_cycles(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    plan_id = await create_plan(app_sessions, targets(60, 480))
    client_id = await client_with_plan(app_sessions, plan_id)
    created = ticket_created(client_id, utc_now() - timedelta(minutes=30))
    await apply_events(
        app_sessions,
        created,
        TicketResolved(
            ticket_id=created.ticket_id,
            client_id=client_id,
            resolved_at=utc_now() - timedelta(minutes=5),
            resolution="released",
        ),
    )

    clocks = (await api.get(f"/v1/tickets/{created.ticket_id}/sla", headers=STAFF)).json()["clocks"]

    assert [(c["metric"], c["state"], c["outcome"], c["cycle"]) for c in clocks] == [
        ("first_response", "met", "met_by_resolution", 1),
        ("resolution", "met", "met", 1),
    ]


async def test_a_ticket_without_a_plan_shows_no_clocks(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    created = ticket_created(str(uuid.uuid4()), utc_now())
    await apply_events(app_sessions, created)

    view = await api.get(f"/v1/tickets/{created.ticket_id}/sla", headers=STAFF)

    assert view.status_code == 200
    assert view.json()["plan_id"] is None
    assert view.json()["clocks"] == []


async def test_an_unknown_ticket_is_a_404_problem(api: httpx.AsyncClient) -> None:
    missing = await api.get(f"/v1/tickets/{uuid.uuid4()}/sla", headers=STAFF)

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_client_key_sees_only_its_own_tickets(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    plan_id = await create_plan(app_sessions, targets(60, 480))
    own_client = await client_with_plan(app_sessions, plan_id)
    other_client = await client_with_plan(app_sessions, plan_id)
    own = ticket_created(own_client, utc_now())
    other = ticket_created(other_client, utc_now())
    await apply_events(app_sessions, own, other)
    key = await seed_client_key(app_sessions, own_client)

    mine = await api.get(f"/v1/tickets/{own.ticket_id}/sla", headers=key)
    theirs = await api.get(f"/v1/tickets/{other.ticket_id}/sla", headers=key)
    unknown = await api.get(f"/v1/tickets/{uuid.uuid4()}/sla", headers=key)
    anonymous = await api.get(f"/v1/tickets/{own.ticket_id}/sla")

    assert mine.status_code == 200
    assert mine.json()["client_id"] == own_client
    # Another client's ticket looks exactly like one that does not exist.
    assert theirs.status_code == 404
    assert theirs.json()["title"] == unknown.json()["title"]
    assert unknown.status_code == 404
    assert anonymous.status_code == 401


async def test_ticket_events_from_kafka_start_clocks_and_sla_events_are_published(
    api: httpx.AsyncClient, app_sessions: Sessions, sla_topics: dict[str, str]
) -> None:
    plan_id = await create_plan(app_sessions, targets(60, 480))
    client_id = str(uuid.uuid4())
    assigned = await api.put(
        f"/v1/clients/{client_id}/plan", json={"plan_id": plan_id}, headers=STAFF
    )
    assert assigned.status_code == 200
    created = ticket_created(client_id, utc_now())
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers())
    await producer.start()
    try:
        client_event = as_event(
            ClientCreated(client_id=client_id, name="Acme", created_at=utc_now())
        )
        await producer.send_and_wait(
            sla_topics["clients"], client_event.to_json_bytes(), key=client_id.encode()
        )
        ticket_event = as_event(created)
        await producer.send_and_wait(
            sla_topics["tickets"], ticket_event.to_json_bytes(), key=created.ticket_id.encode()
        )
    finally:
        await producer.stop()

    deadline = time.monotonic() + 30
    clocks: list[dict[str, object]] = []
    while time.monotonic() < deadline and not clocks:
        view = await api.get(f"/v1/tickets/{created.ticket_id}/sla", headers=STAFF)
        clocks = view.json()["clocks"] if view.status_code == 200 else []
        await asyncio.sleep(0.2)
    assert [clock["metric"] for clock in clocks] == ["first_response", "resolution"]

    # The relay publishes the clock_started events from the outbox.
    unpublished = 2
    while time.monotonic() < deadline and unpublished:
        async with app_sessions() as session:
            rows = (
                await session.execute(
                    select(outbox.c.published_at).where(outbox.c.record_key == created.ticket_id)
                )
            ).all()
        unpublished = sum(1 for row in rows if row.published_at is None) if rows else 2
        await asyncio.sleep(0.2)
    assert unpublished == 0
