"""Helpers for the sla integration tests: plan bodies, events, outbox and row counts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.auth import generate_api_key
from aftercare_shared.clock import utc_now
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    PRIORITIES,
    ClientApiKeyIssued,
    EventPayload,
    Priority,
    TicketCreated,
)
from aftercare_shared.events.factory import new_event
from aftercare_sla import use_cases
from aftercare_sla.consumers import handlers
from aftercare_sla.models import Clock, ClockTimer, Plan, TrackedTicket, outbox
from devkit.databases import admin_token

STAFF = {"Authorization": f"Bearer {admin_token()}"}

OFFICE_HOURS_LONDON: dict[str, Any] = {
    "timezone": "Europe/London",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
}


def targets(first_response: int, resolution: int) -> dict[str, dict[str, int]]:
    """The same targets (minutes) for every priority."""
    return {
        priority: {"first_response_minutes": first_response, "resolution_minutes": resolution}
        for priority in PRIORITIES
    }


def plan_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": f"Gold {uuid.uuid4().hex[:6]}",
        "targets": {
            "P1": {"first_response_minutes": 15, "resolution_minutes": 240},
            "P2": {"first_response_minutes": 60, "resolution_minutes": 480},
            "P3": {"first_response_minutes": 240, "resolution_minutes": 2400},
            "P4": {"first_response_minutes": 480, "resolution_minutes": 4800},
        },
    }
    body.update(overrides)
    return body


async def create_plan(
    sessions: async_sessionmaker[AsyncSession],
    plan_targets: Mapping[str, Mapping[str, int]],
    *,
    calendar: Mapping[str, object] | None = None,
    at_risk_ratio: float = 0.75,
) -> str:
    async with sessions() as session:
        plan = await use_cases.create_plan(
            session,
            name="test plan",
            targets=plan_targets,
            calendar=calendar,
            at_risk_ratio=at_risk_ratio,
        )
    return plan.id


async def client_with_plan(sessions: async_sessionmaker[AsyncSession], plan_id: str) -> str:
    client_id = str(uuid.uuid4())
    async with sessions() as session:
        await use_cases.assign_plan(session, client_id=client_id, plan_id=plan_id)
    return client_id


def ticket_created(
    client_id: str,
    created_at: datetime,
    *,
    priority: Priority = "P2",
    ticket_id: str | None = None,
) -> TicketCreated:
    return TicketCreated(
        ticket_id=ticket_id or str(uuid.uuid4()),
        client_id=client_id,
        title="Checkout fails",
        severity="high",
        priority=priority,
        status="new",
        fingerprint=uuid.uuid4().hex,
        created_at=created_at,
    )


def as_event(payload: EventPayload, *, service: str = "intake") -> CloudEvent:
    subject = getattr(payload, "ticket_id", None) or getattr(payload, "client_id", "subject")
    return new_event(payload, service=service, subject=str(subject))


async def apply_events(sessions: async_sessionmaker[AsyncSession], *payloads: EventPayload) -> None:
    """Apply events as the consumer does: the registry inside one transaction each."""
    for payload in payloads:
        async with sessions() as session, session.begin():
            await handlers(session, as_event(payload))


async def seed_client_key(
    sessions: async_sessionmaker[AsyncSession], client_id: str
) -> dict[str, str]:
    """A client API key in the read model, as aftercare.clients brings it; returns headers."""
    key = generate_api_key()
    await apply_events(
        sessions,
        ClientApiKeyIssued(
            api_key_id=str(uuid.uuid4()),
            client_id=client_id,
            key_hash=key.key_hash,
            prefix=key.prefix,
            created_at=utc_now(),
        ),
    )
    return {"Authorization": f"Bearer {key.key}"}


async def sla_events(
    sessions: async_sessionmaker[AsyncSession], ticket_id: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """(short type, metric, data) of the ticket's sla events in the outbox, in order."""
    async with sessions() as session:
        payloads = (await session.scalars(select(outbox.c.payload).order_by(outbox.c.id))).all()
    events = [CloudEvent.from_json_bytes(bytes(payload)) for payload in payloads]
    return [
        (event.short_type, event.data["metric"], event.data)
        for event in events
        if event.subject == ticket_id
    ]


async def clocks_of(sessions: async_sessionmaker[AsyncSession], ticket_id: str) -> dict[str, Clock]:
    async with sessions() as session:
        rows = await session.scalars(select(Clock).where(Clock.ticket_id == ticket_id))
        return {row.metric: row for row in rows}


async def pending_timers(sessions: async_sessionmaker[AsyncSession]) -> list[ClockTimer]:
    async with sessions() as session:
        return list((await session.scalars(select(ClockTimer).order_by(ClockTimer.due_at))).all())


async def row_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    counts = {}
    async with sessions() as session:
        for name, table in {
            "plans": Plan.__table__,
            "tickets": TrackedTicket.__table__,
            "outbox": outbox,
        }.items():
            counts[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    return counts
