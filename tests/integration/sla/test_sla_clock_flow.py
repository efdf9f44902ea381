"""Ticket events → SLA clocks → durable timers, against a real migrated Postgres.

The registry runs as the consumer runs it (one transaction per event); the timer job's
``process_due_timers`` is driven with an injected ``now`` (or a frozen clock) instead of
sleeping.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import FrozenClock, use_clock
from aftercare_shared.events.catalog import (
    ClientCreated,
    ClientUpdated,
    Priority,
    TicketCommented,
    TicketReopened,
    TicketResolved,
    TicketStatus,
    TicketUpdated,
)
from aftercare_shared.settings import CommonSettings
from aftercare_sla import repository
from aftercare_sla.consumers import handlers
from aftercare_sla.jobs import process_due_timers, timer_job
from aftercare_sla.models import Client, ClockTimer, TrackedTicket
from aftercare_sla.reports.models import ReportTicket, ReportTicketSpan
from aftercare_sla.settings import SlaSettings
from tests.integration.sla.sla_support import (
    OFFICE_HOURS_LONDON,
    apply_events,
    as_event,
    client_with_plan,
    clocks_of,
    create_plan,
    pending_timers,
    sla_events,
    targets,
    ticket_created,
)

Sessions = async_sessionmaker[AsyncSession]
# Friday 27 November 2026, 16:30 in London (UTC in winter); Monday is the 30th.
FRIDAY_AFTERNOON = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def open_ticket(
    sessions: Sessions,
    first_response: int,
    resolution: int,
    *,
    created_at: datetime = T0,
    calendar: dict[str, object] | None = None,
) -> tuple[str, str]:
    plan_id = await create_plan(sessions, targets(first_response, resolution), calendar=calendar)
    client_id = await client_with_plan(sessions, plan_id)
    created = ticket_created(client_id, created_at)
    await apply_events(sessions, created)
    return created.ticket_id, client_id


def updated(
    ticket_id: str,
    client_id: str,
    status: TicketStatus,
    when: datetime,
    priority: Priority = "P2",
) -> TicketUpdated:
    return TicketUpdated(
        ticket_id=ticket_id,
        client_id=client_id,
        status=status,
        priority=priority,
        changed=["status"],
        updated_at=when,
    )


async def test_ticket_created_starts_both_clocks_on_a_24x7_plan(fresh_sessions: Sessions) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 60, 480)

    clocks = await clocks_of(fresh_sessions, ticket_id)
    assert clocks["first_response"].due_at == at(60)
    assert clocks["first_response"].at_risk_at == at(45)
    assert clocks["resolution"].due_at == at(480)
    assert clocks["resolution"].at_risk_at == at(360)
    events = await sla_events(fresh_sessions, ticket_id)
    assert [(kind, metric) for kind, metric, _ in events] == [
        ("sla.clock_started", "first_response"),
        ("sla.clock_started", "resolution"),
    ]
    started = events[0][2]
    assert started["client_id"] == client_id
    assert started["priority"] == "P2"
    assert datetime.fromisoformat(started["due_at"]) == at(60)
    timers = await pending_timers(fresh_sessions)
    assert sorted((timer.kind, timer.due_at) for timer in timers) == sorted(
        [("at_risk", at(45)), ("breach", at(60)), ("at_risk", at(360)), ("breach", at(480))]
    )


async def test_a_nine_to_five_plan_counts_only_office_hours(fresh_sessions: Sessions) -> None:
    ticket_id, _ = await open_ticket(
        fresh_sessions, 60, 480, created_at=FRIDAY_AFTERNOON, calendar=OFFICE_HOURS_LONDON
    )

    clocks = await clocks_of(fresh_sessions, ticket_id)
    # 30 minutes are left on Friday; the rest counts from Monday 09:00.
    assert clocks["first_response"].due_at == MONDAY.replace(hour=9, minute=30)
    assert clocks["first_response"].at_risk_at == MONDAY.replace(hour=9, minute=15)
    assert clocks["resolution"].due_at == MONDAY.replace(hour=16, minute=30)


async def test_a_client_without_a_plan_gets_a_ticket_without_clocks(
    fresh_sessions: Sessions,
) -> None:
    created = ticket_created(str(uuid.uuid4()), T0)
    await apply_events(fresh_sessions, created)

    async with fresh_sessions() as session:
        ticket = await repository.get_ticket(session, created.ticket_id)
    assert ticket is not None
    assert ticket.plan_id is None
    assert await clocks_of(fresh_sessions, created.ticket_id) == {}
    assert await sla_events(fresh_sessions, created.ticket_id) == []
    assert await pending_timers(fresh_sessions) == []


async def test_the_same_ticket_announced_twice_starts_its_clocks_once(
    fresh_sessions: Sessions,
) -> None:
    plan_id = await create_plan(fresh_sessions, targets(60, 480))
    created = ticket_created(await client_with_plan(fresh_sessions, plan_id), T0)

    await apply_events(fresh_sessions, created, created)

    assert len(await sla_events(fresh_sessions, created.ticket_id)) == 2
    assert len(await pending_timers(fresh_sessions)) == 4


async def test_a_run_of_created_tickets_ends_as_one_event_at_a_time(
    fresh_sessions: Sessions,
) -> None:
    """The consumer hands consecutive ``ticket.created`` over as one run (set-based form)."""
    plan_id = await create_plan(fresh_sessions, targets(60, 480))
    covered_client = await client_with_plan(fresh_sessions, plan_id)
    covered = ticket_created(covered_client, T0)
    uncovered = ticket_created(str(uuid.uuid4()), T0)
    later = ticket_created(covered_client, at(5), priority="P1")
    # The same ticket announced again, in the same run: its first announcement counts.
    repeated = covered.model_copy(update={"priority": "P1"})

    async with fresh_sessions() as session, session.begin():
        await handlers.apply_run(
            session, [as_event(payload) for payload in (covered, uncovered, repeated, later)]
        )

    async with fresh_sessions() as session:
        tickets = {
            ticket.ticket_id: (ticket.plan_id, ticket.plan_version, ticket.priority)
            for ticket in await session.scalars(select(TrackedTicket))
        }
        report_tickets = set(await session.scalars(select(ReportTicket.ticket_id)))
        spans = set(await session.scalars(select(ReportTicketSpan.ticket_id)))
    assert tickets == {
        covered.ticket_id: (plan_id, 1, "P2"),
        uncovered.ticket_id: (None, None, "P2"),
        later.ticket_id: (plan_id, 1, "P1"),
    }
    assert report_tickets == spans == set(tickets)
    for ticket_id, starts_at in ((covered.ticket_id, T0), (later.ticket_id, at(5))):
        events = await sla_events(fresh_sessions, ticket_id)
        assert [(kind, metric) for kind, metric, _ in events] == [
            ("sla.clock_started", "first_response"),
            ("sla.clock_started", "resolution"),
        ]
        assert datetime.fromisoformat(events[0][2]["started_at"]) == starts_at
    assert await sla_events(fresh_sessions, uncovered.ticket_id) == []
    assert len(await pending_timers(fresh_sessions)) == 8


async def test_a_staff_comment_meets_the_first_response(fresh_sessions: Sessions) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 60, 480)
    comment = {"ticket_id": ticket_id, "client_id": client_id, "comment_id": "c"}

    await apply_events(
        fresh_sessions,
        TicketCommented(**comment, author_kind="client", created_at=at(5)),
        TicketCommented(**comment, author_kind="staff", created_at=at(20)),
    )

    clocks = await clocks_of(fresh_sessions, ticket_id)
    assert clocks["first_response"].met_at == at(20)
    assert clocks["first_response"].stopped_at == at(20)
    assert clocks["resolution"].stopped_at is None
    assert (await sla_events(fresh_sessions, ticket_id))[-1][:2] == ("sla.met", "first_response")


async def test_leaving_new_too_late_breaches_the_first_response(fresh_sessions: Sessions) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 60, 480)

    await apply_events(fresh_sessions, updated(ticket_id, client_id, "triaged", at(75)))

    clock = (await clocks_of(fresh_sessions, ticket_id))["first_response"]
    assert (clock.breached_at, clock.stopped_at, clock.met_at) == (at(60), at(75), None)
    kinds = [(kind, metric) for kind, metric, _ in await sla_events(fresh_sessions, ticket_id)]
    assert kinds[-1] == ("sla.breached", "first_response")
    assert ("sla.met", "first_response") not in kinds


async def test_resolving_meets_both_clocks(fresh_sessions: Sessions) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 60, 480)

    await apply_events(
        fresh_sessions,
        TicketResolved(ticket_id=ticket_id, client_id=client_id, resolved_at=at(30)),
    )

    clocks = await clocks_of(fresh_sessions, ticket_id)
    assert clocks["first_response"].met_at == at(30)
    assert clocks["resolution"].met_at == at(30)
    assert [(kind, metric) for kind, metric, _ in await sla_events(fresh_sessions, ticket_id)][
        2:
    ] == [
        ("sla.met", "first_response"),
        ("sla.met", "resolution"),
    ]
    # Stopped clocks need no timers: theirs are gone, nothing fires later.
    assert await pending_timers(fresh_sessions) == []
    assert await process_due_timers(fresh_sessions, now=at(10_000), batch_size=100) == 0
    assert len(await sla_events(fresh_sessions, ticket_id)) == 4


async def test_a_timer_held_by_the_worker_while_the_clock_stops_is_dropped_unfired(
    fresh_sessions: Sessions,
) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 1, 1)

    # Another worker holds the timers (as if mid-batch) while the ticket is resolved: the
    # consumer must not wait for them, and must not let them fire afterwards.
    async with fresh_sessions() as worker_session, worker_session.begin():
        await worker_session.execute(
            select(ClockTimer.id).with_for_update()  # the rows a worker would have claimed
        )
        await asyncio.wait_for(
            apply_events(
                fresh_sessions,
                TicketResolved(ticket_id=ticket_id, client_id=client_id, resolved_at=at(0.5)),
            ),
            timeout=10,
        )
    assert len(await pending_timers(fresh_sessions)) == 4

    assert await process_due_timers(fresh_sessions, now=at(5), batch_size=100) == 4

    kinds = [kind for kind, _, _ in await sla_events(fresh_sessions, ticket_id)]
    assert kinds == ["sla.clock_started"] * 2 + ["sla.met"] * 2
    assert await pending_timers(fresh_sessions) == []


async def test_timers_announce_at_risk_then_breach_and_the_clock_runs_on(
    fresh_sessions: Sessions,
) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 1, 1)

    assert await process_due_timers(fresh_sessions, now=at(0.5), batch_size=100) == 0
    assert await process_due_timers(fresh_sessions, now=at(0.8), batch_size=100) == 2
    after_at_risk = await sla_events(fresh_sessions, ticket_id)
    assert [kind for kind, _, _ in after_at_risk[2:]] == ["sla.at_risk", "sla.at_risk"]
    assert await process_due_timers(fresh_sessions, now=at(1.1), batch_size=100) == 2

    events = await sla_events(fresh_sessions, ticket_id)
    assert [kind for kind, _, _ in events[4:]] == ["sla.breached", "sla.breached"]
    assert datetime.fromisoformat(events[4][2]["occurred_at"]) == at(1)
    clocks = await clocks_of(fresh_sessions, ticket_id)
    for clock in clocks.values():
        assert (clock.at_risk_reached_at, clock.breached_at, clock.stopped_at) == (
            at(0.75),
            at(1),
            None,
        )
    assert await pending_timers(fresh_sessions) == []

    # Resolving a breached ticket stops the clocks; the breach stands, nothing is "met".
    await apply_events(
        fresh_sessions,
        TicketResolved(ticket_id=ticket_id, client_id=client_id, resolved_at=at(5)),
    )
    clocks = await clocks_of(fresh_sessions, ticket_id)
    assert all(clock.stopped_at == at(5) and clock.met_at is None for clock in clocks.values())
    assert len(await sla_events(fresh_sessions, ticket_id)) == 6


async def test_a_small_batch_leaves_the_rest_for_the_next_round(fresh_sessions: Sessions) -> None:
    await open_ticket(fresh_sessions, 1, 1)

    assert await process_due_timers(fresh_sessions, now=at(2), batch_size=3) == 3
    assert await process_due_timers(fresh_sessions, now=at(2), batch_size=3) == 1
    assert await process_due_timers(fresh_sessions, now=at(2), batch_size=3) == 0


async def test_a_timer_job_round_fires_what_is_due_by_the_clock_and_returns_its_count(
    fresh_sessions: Sessions,
) -> None:
    ticket_id, _ = await open_ticket(fresh_sessions, 1, 1)
    job = timer_job(
        SlaSettings(common=CommonSettings(admin_token=SecretStr("t" * 32)), timer_batch_size=3)
    )

    clock = FrozenClock(at(0.5))
    with use_clock(clock):
        assert await job.run(fresh_sessions) == 0  # nothing due yet
        clock.advance(timedelta(minutes=1.5))
        assert await job.run(fresh_sessions) == 3  # a full batch: the worker goes again
        assert await job.run(fresh_sessions) == 1
        assert await job.run(fresh_sessions) == 0

    events = await sla_events(fresh_sessions, ticket_id)
    assert sorted(kind for kind, _, _ in events[2:]) == ["sla.at_risk"] * 2 + ["sla.breached"] * 2
    assert await pending_timers(fresh_sessions) == []


async def test_waiting_on_the_client_pauses_resolution_and_pushes_its_deadline(
    fresh_sessions: Sessions,
) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 60, 240)

    await apply_events(fresh_sessions, updated(ticket_id, client_id, "waiting_on_client", at(60)))
    paused = (await clocks_of(fresh_sessions, ticket_id))["resolution"]
    assert paused.paused_at == at(60)
    # The paused clock's timers are stale: a deadline passing while paused breaches nothing.
    await process_due_timers(fresh_sessions, now=at(300), batch_size=100)
    assert (await clocks_of(fresh_sessions, ticket_id))["resolution"].breached_at is None

    await apply_events(fresh_sessions, updated(ticket_id, client_id, "in_progress", at(180)))

    resolution = (await clocks_of(fresh_sessions, ticket_id))["resolution"]
    assert resolution.paused_at is None
    assert resolution.due_at == at(240 + 120)
    events = await sla_events(fresh_sessions, ticket_id)
    assert [(kind, metric) for kind, metric, _ in events][2:] == [
        ("sla.met", "first_response"),
        ("sla.paused", "resolution"),
        ("sla.resumed", "resolution"),
    ]
    assert datetime.fromisoformat(events[-1][2]["due_at"]) == at(360)
    timers = await pending_timers(fresh_sessions)
    assert [(timer.kind, timer.due_at) for timer in timers] == [
        ("at_risk", at(180 + 120)),
        ("breach", at(360)),
    ]


async def test_a_reopened_ticket_resumes_resolution_where_it_stopped(
    fresh_sessions: Sessions,
) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 60, 240)

    await apply_events(
        fresh_sessions,
        TicketResolved(ticket_id=ticket_id, client_id=client_id, resolved_at=at(60)),
        TicketReopened(ticket_id=ticket_id, client_id=client_id, reopened_at=at(600)),
    )

    clocks = await clocks_of(fresh_sessions, ticket_id)
    assert clocks["first_response"].met_at == at(60)
    resolution = clocks["resolution"]
    assert (resolution.stopped_at, resolution.met_at) == (None, None)
    assert resolution.due_at == at(600 + 180)
    assert (await sla_events(fresh_sessions, ticket_id))[-1][:2] == ("sla.resumed", "resolution")
    async with fresh_sessions() as session:
        ticket = await repository.get_ticket(session, ticket_id)
    assert ticket is not None
    assert ticket.status == "triaged"  # what an event without a status reopens to


async def test_a_ticket_reopened_to_waiting_on_the_client_keeps_resolution_paused(
    fresh_sessions: Sessions,
) -> None:
    ticket_id, client_id = await open_ticket(fresh_sessions, 60, 240)

    await apply_events(
        fresh_sessions,
        TicketResolved(ticket_id=ticket_id, client_id=client_id, resolved_at=at(60)),
        TicketReopened(
            ticket_id=ticket_id,
            client_id=client_id,
            reopened_at=at(600),
            status="waiting_on_client",
        ),
    )

    async with fresh_sessions() as session:
        ticket = await repository.get_ticket(session, ticket_id)
    assert ticket is not None
    assert ticket.status == "waiting_on_client"
    resolution = (await clocks_of(fresh_sessions, ticket_id))["resolution"]
    assert (resolution.stopped_at, resolution.paused_at) == (None, at(600))
    assert [(kind, metric) for kind, metric, _ in await sla_events(fresh_sessions, ticket_id)][
        -2:
    ] == [("sla.resumed", "resolution"), ("sla.paused", "resolution")]
    assert await pending_timers(fresh_sessions) == []  # a paused clock has no timers

    # Leaving waiting_on_client resumes from there: 180 business minutes were left.
    await apply_events(fresh_sessions, updated(ticket_id, client_id, "in_progress", at(700)))
    resolution = (await clocks_of(fresh_sessions, ticket_id))["resolution"]
    assert resolution.paused_at is None
    assert resolution.due_at == at(700 + 180)


async def test_a_priority_change_retargets_the_running_clocks(fresh_sessions: Sessions) -> None:
    plan_targets = targets(60, 480)
    plan_targets["P1"] = {"first_response_minutes": 15, "resolution_minutes": 120}
    plan_id = await create_plan(fresh_sessions, plan_targets)
    client_id = await client_with_plan(fresh_sessions, plan_id)
    created = ticket_created(client_id, T0, priority="P2")
    await apply_events(fresh_sessions, created)

    raised = TicketUpdated(
        ticket_id=created.ticket_id,
        client_id=client_id,
        status="new",
        priority="P1",
        changed=["priority"],
        updated_at=at(30),
    )
    await apply_events(fresh_sessions, raised)

    clocks = await clocks_of(fresh_sessions, created.ticket_id)
    assert clocks["resolution"].due_at == at(120)
    # 30 minutes in, a 15-minute first response is already late.
    assert clocks["first_response"].breached_at == at(15)
    events = await sla_events(fresh_sessions, created.ticket_id)
    assert events[-1][:2] == ("sla.breached", "first_response")
    assert events[-1][2]["priority"] == "P1"


async def test_events_for_unknown_tickets_are_ignored(fresh_sessions: Sessions) -> None:
    await apply_events(
        fresh_sessions,
        TicketResolved(ticket_id="nope", client_id="nobody", resolved_at=T0),
    )

    assert await sla_events(fresh_sessions, "nope") == []


async def test_client_events_keep_the_client_read_model(fresh_sessions: Sessions) -> None:
    client_id = str(uuid.uuid4())

    await apply_events(
        fresh_sessions,
        ClientCreated(client_id=client_id, name="Acme", created_at=T0),
        ClientUpdated(client_id=client_id, name="Acme Ltd", updated_at=at(10)),
        ClientUpdated(client_id=client_id, name="Stale name", updated_at=at(5)),
    )

    async with fresh_sessions() as session:
        client = await session.get(Client, client_id)
    assert client is not None
    assert (client.name, client.created_at, client.updated_at) == ("Acme Ltd", T0, at(10))
