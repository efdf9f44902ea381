"""Queue one of intake's events in the caller's transaction (the outbox relays it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.models import SCHEMA
from aftercare_shared.events.catalog import EventPayload
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event, enqueue_events


async def announce(
    session: AsyncSession, payload: EventPayload, *, subject: str, client_id: str | None
) -> None:
    event = new_event(payload, service=ServiceName.INTAKE, subject=subject, client_id=client_id)
    await enqueue_event(session, event, schema=SCHEMA)


async def announce_many(
    session: AsyncSession, announcements: Sequence[tuple[EventPayload, str, str | None]]
) -> None:
    """Queue ``(payload, subject, client_id)`` announcements in one batched outbox INSERT."""
    events = [
        new_event(payload, service=ServiceName.INTAKE, subject=subject, client_id=client_id)
        for payload, subject, client_id in announcements
    ]
    await enqueue_events(session, events, schema=SCHEMA)
