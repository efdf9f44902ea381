"""intake reacting to other services' events, and its periodic purge, on a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from aftercare_intake.consumers import handlers
from aftercare_intake.jobs import idempotency_purge_job
from aftercare_intake.models import ProcessedRelease
from aftercare_shared.clock import FrozenClock, use_clock, utc_now
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    ReleasePublished,
    SlaAtRisk,
    SlaBreached,
    SlaCancelled,
    SlaClockEvent,
    SlaClockStarted,
    SlaDueChanged,
    SlaMet,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from tests.integration.intake.intake_support import (
    STAFF,
    client_with_key,
    count,
    outbox_events,
    report,
    sessions,
)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _deliver(database_url: str, event: CloudEvent) -> None:
    """Run the registry as the consumer runner does: in one transaction it commits."""
    async with (
        sessions(database_url) as session_factory,
        session_factory() as session,
        session.begin(),
    ):
        await handlers(session, event)


def _published(release_id: str, ticket_ids: list[str]) -> CloudEvent:
    payload = ReleasePublished(
        release_id=release_id,
        product="shop",
        version="1.2.0",
        kind="bugfix",
        ticket_ids=ticket_ids,
        published_at=AT,
    )
    return new_event(payload, service=ServiceName.RELEASES, subject=release_id)


def _clock_event(
    payload_type: type[SlaClockEvent], ticket_id: str, client_id: str, metric: str, minute: int
) -> CloudEvent:
    payload = payload_type.model_validate(
        {
            "ticket_id": ticket_id,
            "client_id": client_id,
            "metric": metric,
            "plan_id": None,
            "priority": "P2",
            "started_at": AT,
            "due_at": AT + timedelta(hours=8),
            "occurred_at": AT + timedelta(minutes=minute),
        }
    )
    return new_event(payload, service=ServiceName.SLA, subject=ticket_id, client_id=client_id)


async def test_a_published_release_resolves_its_open_tickets_once(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    fixed, closed_before, untouched = [await report(api, key, f"bug {n}") for n in range(3)]
    await api.patch(f"/v1/tickets/{closed_before}", json={"status": "closed"}, headers=STAFF)

    release_id = f"r-{uuid.uuid4()}"  # the live consumer may apply other tests' releases
    await _deliver(database_url, _published(release_id, [fixed, closed_before, "elsewhere"]))
    # Published again (a new event, the same release): nothing resolves twice.
    await _deliver(database_url, _published(release_id, [fixed, untouched]))

    views = {
        ticket_id: (await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)).json()
        for ticket_id in (fixed, closed_before, untouched)
    }
    assert views[fixed]["status"] == "resolved"
    assert views[fixed]["resolved_by_release_id"] == release_id
    assert views[closed_before]["status"] == "closed"
    assert views[untouched]["status"] == "new"
    events = await outbox_events(database_url)
    resolved = [event for event in events if event.short_type == "ticket.resolved"]
    assert [(event.subject, event.data["release_id"]) for event in resolved] == [
        (fixed, release_id)
    ]
    assert resolved[0].data["resolution"] == "released"
    async with sessions(database_url) as session_factory, session_factory() as session:
        processed = await session.get(ProcessedRelease, release_id)
    assert processed is not None
    assert processed.resolved_count == 1


async def test_sla_clock_events_show_on_the_ticket(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Outage", severity="high")

    for event in (
        _clock_event(SlaClockStarted, ticket_id, client_id, "resolution", 0),
        _clock_event(SlaBreached, ticket_id, client_id, "resolution", 9),
        _clock_event(SlaMet, ticket_id, client_id, "first_response", 3),
        # A clock of a ticket this deployment does not hold changes nothing, fails nothing.
        _clock_event(SlaBreached, "elsewhere", client_id, "resolution", 9),
    ):
        await _deliver(database_url, event)

    sla = (await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)).json()["sla"]
    due = (AT + timedelta(hours=8)).isoformat()
    assert sla == {
        "resolution": {
            "state": "breached",
            "due_at": due,
            "updated_at": (AT + timedelta(minutes=9)).isoformat(),
        },
        "first_response": {
            "state": "met",
            "due_at": due,
            "updated_at": (AT + timedelta(minutes=3)).isoformat(),
        },
    }


async def test_next_response_cancelled_and_due_changed_show_on_the_ticket(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Slow pages", severity="low")
    moved_due = AT + timedelta(hours=20)

    for event in (
        _clock_event(SlaClockStarted, ticket_id, client_id, "next_response", 0),
        _clock_event(SlaAtRisk, ticket_id, client_id, "next_response", 5),
        new_event(
            SlaDueChanged(
                ticket_id=ticket_id,
                client_id=client_id,
                metric="next_response",
                plan_id=None,
                priority="P2",
                started_at=AT,
                due_at=moved_due,
                previous_due_at=AT + timedelta(hours=8),
                occurred_at=AT + timedelta(minutes=7),
            ),
            service=ServiceName.SLA,
            subject=ticket_id,
            client_id=client_id,
        ),
        _clock_event(SlaClockStarted, ticket_id, client_id, "resolution", 0),
        _clock_event(SlaCancelled, ticket_id, client_id, "resolution", 8),
    ):
        await _deliver(database_url, event)

    sla = (await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)).json()["sla"]
    # The due time moved, the at-risk state stays.
    assert sla["next_response"] == {
        "state": "at_risk",
        "due_at": moved_due.isoformat(),
        "updated_at": (AT + timedelta(minutes=7)).isoformat(),
    }
    assert sla["resolution"]["state"] == "cancelled"


async def test_the_purge_job_forgets_expired_idempotency_answers_and_counts_them(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    for idempotency_key in ("first", "second"):
        answer = await api.post(
            "/v1/reports",
            json={"title": idempotency_key, "severity": "low"},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key},
        )
        assert answer.status_code == 201
    job = idempotency_purge_job(ttl=timedelta(hours=24))
    assert (job.name, job.interval_seconds) == ("intake-idempotency-purge", 3600.0)

    async with sessions(database_url) as session_factory:
        clock = FrozenClock(utc_now())
        with use_clock(clock):
            clock.advance(timedelta(hours=23))
            assert await job.run(session_factory) == 0  # still inside the window
            clock.advance(timedelta(hours=2))
            assert await job.run(session_factory) == 2
            assert await job.run(session_factory) == 0
    assert await count(database_url, "idempotency_keys") == 0
    assert await count(database_url, "tickets") == 2
