"""The ticket read model kept from aftercare.tickets: applied in order, never regressing."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases.consumers import handlers
from aftercare_releases.models import TicketView, inbox
from aftercare_shared.consumer import PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.topics import TICKETS
from devkit.databases import kafka_bootstrap_servers
from tests.integration.releases.releases_support import apply_events, ticket_created

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def view_of(
    session_factory: async_sessionmaker[AsyncSession], ticket_id: str
) -> TicketView | None:
    async with session_factory() as session:
        return await session.get(TicketView, ticket_id)


async def test_created_then_status_changes_are_applied(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    created = ticket_created(str(uuid.uuid4()), "Login loops").model_copy(update={"created_at": T0})
    ticket_id, client_id = created.ticket_id, created.client_id
    await apply_events(session_factory, created, subject=ticket_id)
    view = await view_of(session_factory, ticket_id)
    assert view is not None
    assert (view.client_id, view.title, view.priority, view.status) == (
        client_id,
        "Login loops",
        "P2",
        "new",
    )

    steps = [
        (
            TicketUpdated(
                ticket_id=ticket_id,
                client_id=client_id,
                status="in_progress",
                priority="P1",
                changed=["status", "priority", "kind"],
                updated_at=T0 + timedelta(minutes=1),
                kind="feature_request",
            ),
            ("in_progress", "P1"),
        ),
        (
            TicketResolved(
                ticket_id=ticket_id, client_id=client_id, resolved_at=T0 + timedelta(minutes=2)
            ),
            ("resolved", "P1"),
        ),
        (
            TicketReopened(
                ticket_id=ticket_id, client_id=client_id, reopened_at=T0 + timedelta(minutes=3)
            ),
            ("triaged", "P1"),
        ),
        (
            TicketClosed(
                ticket_id=ticket_id, client_id=client_id, closed_at=T0 + timedelta(minutes=4)
            ),
            ("closed", "P1"),
        ),
    ]
    for payload, (status, priority) in steps:
        await apply_events(session_factory, payload, subject=ticket_id)
        view = await view_of(session_factory, ticket_id)
        assert view is not None
        assert (view.status, view.priority) == (status, priority), payload.event_type
        # Re-classified by staff: the changelog files it under its new kind from then on.
        assert view.kind == "feature_request"


async def test_a_reopened_ticket_takes_the_status_the_event_names(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    created = ticket_created(str(uuid.uuid4()), "Invoices stuck").model_copy(
        update={"created_at": T0}
    )
    ticket_id, client_id = created.ticket_id, created.client_id
    resolved = TicketResolved(
        ticket_id=ticket_id, client_id=client_id, resolved_at=T0 + timedelta(minutes=1)
    )
    reopened = TicketReopened(
        ticket_id=ticket_id,
        client_id=client_id,
        reopened_at=T0 + timedelta(minutes=2),
        status="in_progress",
    )
    await apply_events(session_factory, created, resolved, reopened, subject=ticket_id)
    view = await view_of(session_factory, ticket_id)
    assert view is not None
    assert view.status == "in_progress"


async def test_an_older_event_never_overwrites_a_newer_status(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    created = ticket_created(str(uuid.uuid4()), "Report export is empty").model_copy(
        update={"created_at": T0}
    )
    ticket_id, client_id = created.ticket_id, created.client_id
    resolved = TicketResolved(
        ticket_id=ticket_id, client_id=client_id, resolved_at=T0 + timedelta(hours=1)
    )
    # The resolution arrives first (say ticket.created was replayed from the DLQ later).
    await apply_events(session_factory, resolved, subject=ticket_id)
    early = await view_of(session_factory, ticket_id)
    assert early is not None
    assert (early.client_id, early.title, early.status) == (client_id, None, "resolved")

    await apply_events(session_factory, created, subject=ticket_id)
    view = await view_of(session_factory, ticket_id)
    assert view is not None
    assert (view.title, view.priority, view.status) == ("Report export is empty", "P2", "resolved")

    stale = TicketUpdated(
        ticket_id=ticket_id,
        client_id=client_id,
        status="in_progress",
        priority="P3",
        changed=["status"],
        updated_at=T0 + timedelta(minutes=30),
    )
    await apply_events(session_factory, stale, subject=ticket_id)
    view = await view_of(session_factory, ticket_id)
    assert view is not None
    assert (view.status, view.priority) == ("resolved", "P2")


async def test_a_run_of_created_tickets_ends_as_one_event_at_a_time(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The consumer hands consecutive ``ticket.created`` over as one run (one statement)."""
    client_id = str(uuid.uuid4())

    def announcements() -> list[TicketCreated]:
        first = ticket_created(client_id, "first").model_copy(update={"created_at": T0})
        other = ticket_created(client_id, "other").model_copy(update={"created_at": T0})
        # The first ticket announced twice more, an older and a newer copy, in the same run.
        older = first.model_copy(
            update={"title": "older", "priority": "P1", "created_at": T0 - timedelta(minutes=1)}
        )
        newer = first.model_copy(
            update={"title": "newer", "priority": "P3", "created_at": T0 + timedelta(minutes=1)}
        )
        return [first, other, older, newer]

    together, one_at_a_time = announcements(), announcements()
    async with session_factory() as session, session.begin():
        await handlers.apply_run(
            session,
            [
                new_event(payload, service="intake", subject=payload.ticket_id)
                for payload in together
            ],
        )
    for payload in one_at_a_time:
        await apply_events(session_factory, payload, subject=payload.ticket_id)

    async def state(payloads: list[TicketCreated]) -> list[tuple[object, ...]]:
        views = [await view_of(session_factory, payload.ticket_id) for payload in payloads[:2]]
        return [
            (view.title, view.priority, view.status, view.status_changed_at)
            for view in views
            if view is not None
        ]

    assert await state(together) == await state(one_at_a_time)
    assert (await state(together))[0] == ("newer", "P3", "new", T0 + timedelta(minutes=1))


async def test_events_this_service_does_not_use_change_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    commented = TicketCommented(
        ticket_id=str(uuid.uuid4()),
        client_id=str(uuid.uuid4()),
        comment_id=str(uuid.uuid4()),
        author_kind="staff",
        created_at=T0,
    )
    await apply_events(session_factory, commented, subject=commented.ticket_id)
    assert await view_of(session_factory, commented.ticket_id) is None


async def test_a_payload_breaking_its_contract_is_a_permanent_error(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    broken = CloudEvent(
        id=str(uuid.uuid4()),
        source="/aftercare/intake",
        type="aftercare.ticket.created.v1",
        time=T0,
        subject="t",
        data={"ticket_id": "t"},
    )
    async with session_factory() as session, session.begin():
        with pytest.raises(PermanentEventError):
            await handlers(session, broken)


async def test_ticket_events_arrive_through_kafka(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The lifespan's consumer applies a real record from aftercare.tickets."""
    created = ticket_created(str(uuid.uuid4()), f"Through Kafka {secrets.token_hex(3)}")
    event = new_event(created, service="intake", subject=created.ticket_id)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers())
    await producer.start()
    try:
        await producer.send_and_wait(
            TICKETS,
            value=event.to_json_bytes(),
            key=created.ticket_id.encode(),
            headers=[("content-type", b"application/cloudevents+json")],
        )
    finally:
        await producer.stop()
    deadline = time.monotonic() + 60
    while (view := await view_of(session_factory, created.ticket_id)) is None:
        assert time.monotonic() < deadline, "the consumer did not apply the event in time"
        await asyncio.sleep(0.25)
    assert view.title == created.title
    async with session_factory() as session:
        applied = await session.scalar(select(inbox.c.event_id).where(inbox.c.event_id == event.id))
    assert applied == event.id
