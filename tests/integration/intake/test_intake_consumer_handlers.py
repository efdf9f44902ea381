"""intake's consumer handlers, one event at a time, on a real migrated database.

Each event goes through the registry as the consumer runner hands it over: decoded from
its wire bytes, in one transaction that commits. What is checked is what the handler
leaves behind (ticket rows, history, outbox), never which function it called.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    ReleasePublished,
    SlaAtRisk,
    SlaBreached,
    SlaCancelled,
    SlaClockEvent,
    SlaClockStarted,
    SlaMet,
    SlaPaused,
    SlaResumed,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from tests.integration.intake.intake_support import (
    STAFF,
    client_with_key,
    deliver,
    outbox_events,
    report,
    scalar,
)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def as_received(event: CloudEvent) -> CloudEvent:
    """The event as the runner gets it off Kafka: its bytes, decoded again."""
    return CloudEvent.from_json_bytes(event.to_json_bytes())


def clock_event(
    payload_type: type[SlaClockEvent],
    ticket_id: str,
    client_id: str,
    *,
    metric: str,
    due_in: timedelta,
    minute: int,
) -> CloudEvent:
    payload = payload_type.model_validate(
        {
            "ticket_id": ticket_id,
            "client_id": client_id,
            "metric": metric,
            "plan_id": None,
            "priority": "P2",
            "started_at": AT,
            "due_at": AT + due_in,
            "occurred_at": AT + timedelta(minutes=minute),
        }
    )
    return new_event(payload, service=ServiceName.SLA, subject=ticket_id, client_id=client_id)


def published(release_id: str, ticket_ids: list[str], version: str = "2.4.0") -> CloudEvent:
    payload = ReleasePublished(
        release_id=release_id,
        product="shop",
        version=version,
        kind="bugfix",
        ticket_ids=ticket_ids,
        published_at=AT,
    )
    return new_event(payload, service=ServiceName.RELEASES, subject=release_id)


async def ticket_view(api: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


async def stored_sla_due_at(database_url: str, ticket_id: str) -> datetime | None:
    due: datetime | None = await scalar(
        database_url, "SELECT sla_due_at FROM intake.tickets WHERE id = :id", id=ticket_id
    )
    return due


# --- SLA clock events → the SLA state on the ticket --------------------------------------


@pytest.mark.parametrize(
    ("payload_type", "state", "counts"),
    [
        (SlaClockStarted, "running", True),
        (SlaAtRisk, "at_risk", True),
        (SlaBreached, "breached", True),
        (SlaPaused, "paused", False),
        (SlaResumed, "running", True),
        (SlaMet, "met", False),
        (SlaCancelled, "cancelled", False),
    ],
    ids=lambda value: getattr(value, "event_type", str(value)),
)
async def test_each_clock_event_shows_its_state_and_whether_its_due_time_counts(
    api: httpx.AsyncClient,
    database_url: str,
    payload_type: type[SlaClockEvent],
    state: str,
    counts: bool,
) -> None:
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Checkout fails")
    # A running first-response clock due later: the ticket's SLA due time is the soonest
    # due time among its counting clocks.
    await deliver(
        database_url,
        as_received(
            clock_event(
                SlaClockStarted,
                ticket_id,
                client_id,
                metric="first_response",
                due_in=timedelta(hours=24),
                minute=0,
            )
        ),
    )
    await deliver(
        database_url,
        as_received(
            clock_event(
                payload_type,
                ticket_id,
                client_id,
                metric="resolution",
                due_in=timedelta(hours=8),
                minute=5,
            )
        ),
    )

    sla = (await ticket_view(api, ticket_id))["sla"]
    assert sla["resolution"] == {
        "state": state,
        "due_at": (AT + timedelta(hours=8)).isoformat(),
        "updated_at": (AT + timedelta(minutes=5)).isoformat(),
    }
    assert sla["first_response"]["state"] == "running"
    expected_due = AT + timedelta(hours=8 if counts else 24)
    assert await stored_sla_due_at(database_url, ticket_id) == expected_due


async def test_a_paused_clock_stops_counting_and_a_resumed_one_counts_again(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Waiting on the client")
    due_in = timedelta(hours=8)
    dues: list[datetime | None] = []
    for minute, payload_type in enumerate((SlaClockStarted, SlaPaused, SlaResumed, SlaMet)):
        event = clock_event(
            payload_type, ticket_id, client_id, metric="resolution", due_in=due_in, minute=minute
        )
        await deliver(database_url, as_received(event))
        dues.append(await stored_sla_due_at(database_url, ticket_id))
    assert dues == [AT + due_in, None, AT + due_in, None]
    assert (await ticket_view(api, ticket_id))["sla"]["resolution"]["state"] == "met"


async def test_the_same_clock_event_delivered_twice_leaves_the_same_state(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Duplicate delivery")
    breached = as_received(
        clock_event(
            SlaBreached, ticket_id, client_id, metric="resolution", due_in=timedelta(0), minute=9
        )
    )
    await deliver(database_url, breached)
    once = (await ticket_view(api, ticket_id))["sla"]
    await deliver(database_url, breached)
    assert (await ticket_view(api, ticket_id))["sla"] == once


# --- release.published → resolved ---------------------------------------------------------


async def test_a_release_resolves_every_open_status_and_records_why(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    open_statuses = ["new", "triaged", "in_progress", "waiting_on_client"]
    tickets: dict[str, str] = {}
    for status in open_statuses:
        tickets[status] = await report(api, key, f"bug while {status}")
        if status != "new":
            moved = await api.patch(
                f"/v1/tickets/{tickets[status]}", json={"status": status}, headers=STAFF
            )
            assert moved.status_code == 200, moved.text
    release_id = f"r-{uuid.uuid4()}"

    await deliver(database_url, as_received(published(release_id, list(tickets.values()))))

    for status, ticket_id in tickets.items():
        view = await ticket_view(api, ticket_id)
        assert view["status"] == "resolved", status
        assert view["resolved_by_release_id"] == release_id
        assert view["fixed_in"] == {"release_id": release_id, "product": "shop", "version": "2.4.0"}
        history = (await api.get(f"/v1/tickets/{ticket_id}/history", headers=STAFF)).json()
        resolved = [item for item in history["items"] if item["action"] == "resolved"]
        assert [item["details"] for item in resolved] == [
            {"from": status, "release_id": release_id, "fixed_in": "shop@2.4.0"}
        ]
    announced = [e for e in await outbox_events(database_url) if e.short_type == "ticket.resolved"]
    assert sorted(e.subject for e in announced) == sorted(tickets.values())
    assert {e.data["resolution"] for e in announced} == {"released"}


async def test_a_ticket_resolved_by_hand_learns_its_fix_without_a_second_resolution(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    ticket_id = await report(api, key, "Fixed by hand first")
    resolved = await api.patch(
        f"/v1/tickets/{ticket_id}", json={"status": "resolved"}, headers=STAFF
    )
    assert resolved.status_code == 200, resolved.text
    before = [e for e in await outbox_events(database_url) if e.short_type == "ticket.resolved"]
    release_id = f"r-{uuid.uuid4()}"

    await deliver(database_url, as_received(published(release_id, [ticket_id], "3.0.1")))

    view = await ticket_view(api, ticket_id)
    assert view["status"] == "resolved"
    assert view["resolved_by_release_id"] is None  # staff resolved it, not the release
    assert view["fixed_in"] == {"release_id": release_id, "product": "shop", "version": "3.0.1"}
    after = [e for e in await outbox_events(database_url) if e.short_type == "ticket.resolved"]
    assert after == before


async def test_the_same_release_event_delivered_twice_resolves_once(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    ticket_id = await report(api, key, "Redelivered release")
    event = as_received(published(f"r-{uuid.uuid4()}", [ticket_id]))
    await deliver(database_url, event)
    await deliver(database_url, event)
    announced = [e for e in await outbox_events(database_url) if e.short_type == "ticket.resolved"]
    assert [e.subject for e in announced] == [ticket_id]
    history = (await api.get(f"/v1/tickets/{ticket_id}/history", headers=STAFF)).json()
    assert [item["action"] for item in history["items"]].count("resolved") == 1
