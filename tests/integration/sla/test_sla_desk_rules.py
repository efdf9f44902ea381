"""The support desk's SLA rules against a real migrated Postgres, one database per test.

Ticket events go through the consumer registry (one transaction each) with the times they
carry; plan changes and assignments call the use cases under a frozen clock (no app runs
on these databases, so freezing the process clock stops no background worker); timers
fire through ``process_due_timers`` with an explicit ``now``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import FrozenClock, use_clock
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    PRIORITIES,
    ActorKind,
    CommentAuthorKind,
    CommentVisibility,
    TicketCommented,
    TicketReopened,
    TicketResolved,
    TicketStatus,
    TicketUpdated,
)
from aftercare_sla import use_cases
from aftercare_sla.domain.ticket_lifecycle import OnReopen
from aftercare_sla.jobs import process_due_timers
from aftercare_sla.models import outbox
from tests.integration.sla.sla_support import (
    OFFICE_HOURS_LONDON,
    apply_events,
    clocks_of,
    pending_timers,
    sla_events,
    ticket_created,
)

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # a Tuesday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def desk_targets(
    first_response: int = 60, resolution: int = 480, next_response: int | None = 30
) -> dict[str, dict[str, int]]:
    minutes = {"first_response_minutes": first_response, "resolution_minutes": resolution}
    if next_response is not None:
        minutes["next_response_minutes"] = next_response
    return {priority: dict(minutes) for priority in PRIORITIES}


@contextmanager
def frozen_at(when: datetime) -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(when)) as clock:
        yield clock


async def new_plan(
    sessions: Sessions,
    *,
    targets: Mapping[str, Mapping[str, int]] | None = None,
    calendar: Mapping[str, object] | None = None,
    pause_on: tuple[TicketStatus, ...] = ("waiting_on_client",),
    on_reopen: OnReopen = "resume",
) -> str:
    async with sessions() as session:
        plan = await use_cases.create_plan(
            session,
            name="desk plan",
            targets=targets or desk_targets(),
            calendar=calendar,
            at_risk_ratio=0.5,
            pause_on=pause_on,
            on_reopen=on_reopen,
        )
    return plan.id


async def assign(
    sessions: Sessions,
    client_id: str,
    plan_id: str,
    when: datetime = T0,
    override: Mapping[str, object] | None = None,
) -> None:
    with frozen_at(when):
        async with sessions() as session:
            await use_cases.assign_plan(
                session, client_id=client_id, plan_id=plan_id, calendar_override=override
            )


async def open_ticket(sessions: Sessions, client_id: str, created_at: datetime = T0) -> str:
    created = ticket_created(client_id, created_at)
    await apply_events(sessions, created)
    return created.ticket_id


async def desk_ticket(sessions: Sessions, **plan_options: Any) -> tuple[str, str, str]:
    """(plan, client, ticket) with the plan assigned before the ticket at T0."""
    plan_id = await new_plan(sessions, **plan_options)
    client_id = str(uuid.uuid4())
    await assign(sessions, client_id, plan_id)
    return plan_id, client_id, await open_ticket(sessions, client_id)


def comment(
    ticket_id: str,
    client_id: str,
    author: CommentAuthorKind,
    when: datetime,
    visibility: CommentVisibility = "public",
) -> TicketCommented:
    return TicketCommented(
        ticket_id=ticket_id,
        client_id=client_id,
        comment_id=str(uuid.uuid4()),
        author_kind=author,
        created_at=when,
        visibility=visibility,
    )


def status(
    ticket_id: str,
    client_id: str,
    new_status: TicketStatus,
    when: datetime,
    actor: ActorKind | None = None,
) -> TicketUpdated:
    return TicketUpdated(
        ticket_id=ticket_id,
        client_id=client_id,
        status=new_status,
        priority="P2",
        changed=["status"],
        updated_at=when,
        actor_kind=actor,
    )


async def kinds(sessions: Sessions, ticket_id: str) -> list[tuple[str, str]]:
    return [(kind, metric) for kind, metric, _ in await sla_events(sessions, ticket_id)]


async def client_events(sessions: Sessions, client_id: str) -> list[CloudEvent]:
    async with sessions() as session:
        payloads = (await session.scalars(select(outbox.c.payload).order_by(outbox.c.id))).all()
    events = [CloudEvent.from_json_bytes(bytes(payload)) for payload in payloads]
    return [event for event in events if event.subject == client_id]


# --- first response ----------------------------------------------------------------------


async def test_an_internal_note_is_no_answer_and_a_public_staff_reply_is(
    fresh_sessions: Sessions,
) -> None:
    _, client_id, ticket_id = await desk_ticket(fresh_sessions)

    await apply_events(fresh_sessions, comment(ticket_id, client_id, "staff", at(5), "internal"))
    assert (await clocks_of(fresh_sessions, ticket_id))["first_response"].stopped_at is None

    await apply_events(fresh_sessions, comment(ticket_id, client_id, "staff", at(9)))
    first_response = (await clocks_of(fresh_sessions, ticket_id))["first_response"]
    assert (first_response.met_at, first_response.outcome) == (at(9), "met")


async def test_only_a_staff_status_change_out_of_new_is_the_first_response(
    fresh_sessions: Sessions,
) -> None:
    _, client_id, by_client = await desk_ticket(fresh_sessions)
    by_system = await open_ticket(fresh_sessions, client_id)
    by_staff = await open_ticket(fresh_sessions, client_id)
    unsaid = await open_ticket(fresh_sessions, client_id)

    await apply_events(
        fresh_sessions,
        status(by_client, client_id, "triaged", at(5), actor="client"),
        status(by_system, client_id, "triaged", at(5), actor="system"),
        status(by_staff, client_id, "triaged", at(5), actor="staff"),
        # Older producers say nothing: only staff could change a ticket then.
        status(unsaid, client_id, "triaged", at(5)),
    )

    for ticket_id, met in (
        (by_client, None),
        (by_system, None),
        (by_staff, at(5)),
        (unsaid, at(5)),
    ):
        assert (await clocks_of(fresh_sessions, ticket_id))["first_response"].met_at == met


async def test_a_fix_before_any_answer_is_met_by_resolution_and_said_so(
    fresh_sessions: Sessions,
) -> None:
    _, client_id, fixed = await desk_ticket(fresh_sessions)
    by_hand = await open_ticket(fresh_sessions, client_id)

    await apply_events(
        fresh_sessions,
        TicketResolved(
            ticket_id=fixed,
            client_id=client_id,
            resolved_at=at(20),
            release_id=str(uuid.uuid4()),
            resolution="released",
        ),
        TicketResolved(
            ticket_id=by_hand, client_id=client_id, resolved_at=at(20), resolution="manual"
        ),
    )

    fixed_events = await sla_events(fresh_sessions, fixed)
    met = [
        data
        for kind, metric, data in fixed_events
        if (kind, metric) == ("sla.met", "first_response")
    ]
    assert [data["outcome"] for data in met] == ["met_by_resolution"]
    assert (await clocks_of(fresh_sessions, fixed))["first_response"].outcome == "met_by_resolution"
    assert (await clocks_of(fresh_sessions, fixed))["resolution"].outcome == "met"
    # Staff resolving by hand answered the client: a plain met.
    assert (await clocks_of(fresh_sessions, by_hand))["first_response"].outcome == "met"


# --- next response -----------------------------------------------------------------------


async def test_every_answered_client_reply_is_a_next_response_cycle(
    fresh_sessions: Sessions,
) -> None:
    _, client_id, ticket_id = await desk_ticket(fresh_sessions)

    await apply_events(
        fresh_sessions,
        comment(ticket_id, client_id, "client", at(2)),  # first response covers it
        comment(ticket_id, client_id, "staff", at(10)),
        comment(ticket_id, client_id, "client", at(20)),
        comment(ticket_id, client_id, "client", at(25)),  # the same cycle
        comment(ticket_id, client_id, "staff", at(30), "internal"),  # no answer
    )
    running = (await clocks_of(fresh_sessions, ticket_id))["next_response"]
    assert (running.cycle, running.started_at, running.due_at) == (1, at(20), at(50))

    # The timer job breaches the first cycle; a public reply ends it; the next starts fresh.
    assert await process_due_timers(fresh_sessions, now=at(51), batch_size=100) >= 2
    await apply_events(
        fresh_sessions,
        comment(ticket_id, client_id, "staff", at(60)),
        comment(ticket_id, client_id, "client", at(70)),
        comment(ticket_id, client_id, "staff", at(80)),
    )

    next_events = [
        (kind, data["cycle"], data.get("outcome"))
        for kind, metric, data in await sla_events(fresh_sessions, ticket_id)
        if metric == "next_response"
    ]
    assert next_events == [
        ("sla.clock_started", 1, None),
        ("sla.at_risk", 1, None),
        ("sla.breached", 1, None),
        ("sla.clock_started", 2, None),
        ("sla.met", 2, "met"),
    ]
    clock = (await clocks_of(fresh_sessions, ticket_id))["next_response"]
    assert (clock.cycle, clock.met_at) == (2, at(80))
    assert not [t for t in await pending_timers(fresh_sessions) if t.clock_id == clock.id]


async def test_a_plan_without_next_response_targets_makes_no_such_promise(
    fresh_sessions: Sessions,
) -> None:
    _, client_id, ticket_id = await desk_ticket(
        fresh_sessions, targets=desk_targets(next_response=None)
    )

    await apply_events(
        fresh_sessions,
        comment(ticket_id, client_id, "staff", at(10)),
        comment(ticket_id, client_id, "client", at(20)),
    )

    assert "next_response" not in await clocks_of(fresh_sessions, ticket_id)


# --- plan options --------------------------------------------------------------------------


async def test_pause_on_statuses_pause_resolution(fresh_sessions: Sessions) -> None:
    _, client_id, ticket_id = await desk_ticket(fresh_sessions, pause_on=("triaged",))

    await apply_events(
        fresh_sessions,
        status(ticket_id, client_id, "triaged", at(60)),
        status(ticket_id, client_id, "waiting_on_client", at(120)),  # counts under this plan
    )

    resolution = (await clocks_of(fresh_sessions, ticket_id))["resolution"]
    assert resolution.paused_at is None
    assert resolution.due_at == at(480 + 60)
    assert await kinds(fresh_sessions, ticket_id) == [
        ("sla.clock_started", "first_response"),
        ("sla.clock_started", "resolution"),
        ("sla.met", "first_response"),
        ("sla.paused", "resolution"),
        ("sla.resumed", "resolution"),
    ]


async def test_on_reopen_restart_gives_the_reopened_ticket_a_full_new_cycle(
    fresh_sessions: Sessions,
) -> None:
    _, client_id, restarted = await desk_ticket(fresh_sessions, on_reopen="restart")
    _, other_client, resumed = await desk_ticket(fresh_sessions, on_reopen="resume")

    for ticket_id, client in ((restarted, client_id), (resumed, other_client)):
        await apply_events(
            fresh_sessions,
            status(ticket_id, client, "resolved", at(100)),
            TicketReopened(
                ticket_id=ticket_id, client_id=client, reopened_at=at(1000), status="in_progress"
            ),
        )

    restart = (await clocks_of(fresh_sessions, restarted))["resolution"]
    resume = (await clocks_of(fresh_sessions, resumed))["resolution"]
    assert (restart.cycle, restart.started_at, restart.due_at) == (2, at(1000), at(1480))
    assert (resume.cycle, resume.started_at, resume.due_at) == (1, T0, at(1000 + 380))


# --- plan versions -------------------------------------------------------------------------


async def test_a_new_plan_version_leaves_running_clocks_their_targets(
    fresh_sessions: Sessions,
) -> None:
    plan_id, client_id, before = await desk_ticket(fresh_sessions)

    with frozen_at(at(5)):
        async with fresh_sessions() as session:
            plan = await use_cases.change_plan(
                session,
                plan_id=plan_id,
                changes=use_cases.PlanChanges(targets=desk_targets(first_response=15)),
            )
    after = await open_ticket(fresh_sessions, client_id, at(10))
    # A priority change of the old ticket re-targets from ITS version.
    await apply_events(
        fresh_sessions,
        TicketUpdated(
            ticket_id=before,
            client_id=client_id,
            status="new",
            priority="P1",
            changed=["priority"],
            updated_at=at(20),
        ),
    )

    assert plan.version == 2
    assert (await clocks_of(fresh_sessions, before))["first_response"].due_at == at(60)
    assert (await clocks_of(fresh_sessions, after))["first_response"].due_at == at(10 + 15)
    async with fresh_sessions() as session:
        versions = await use_cases.list_plan_versions(
            session, plan_id=plan_id, limit=10, after=None
        )
    assert [(v.version, v.targets["P1"]["first_response_minutes"]) for v in versions] == [
        (2, 15),
        (1, 60),
    ]


async def test_a_calendar_change_moves_running_due_times_and_says_so(
    fresh_sessions: Sessions,
) -> None:
    plan_id, client_id, ticket_id = await desk_ticket(fresh_sessions)
    await apply_events(fresh_sessions, comment(ticket_id, client_id, "staff", at(5)))

    # From 24x7 to London office hours at 11:00 on Tuesday: 60 of 480 minutes counted.
    with frozen_at(at(60)):
        async with fresh_sessions() as session:
            await use_cases.change_plan(
                session,
                plan_id=plan_id,
                changes=use_cases.PlanChanges(calendar=OFFICE_HOURS_LONDON),
            )

    resolution = (await clocks_of(fresh_sessions, ticket_id))["resolution"]
    # 10:00-17:00 Tuesday is 420 minutes; the other 60 fall on Wednesday 09:00-10:00.
    wednesday_ten = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert resolution.due_at == wednesday_ten
    changed = [
        data
        for kind, _, data in await sla_events(fresh_sessions, ticket_id)
        if kind == "sla.due_changed"
    ]
    assert [
        (
            d["metric"],
            datetime.fromisoformat(d["previous_due_at"]),
            datetime.fromisoformat(d["due_at"]),
        )
        for d in changed
    ] == [("resolution", at(480), wednesday_ten)]
    breach_timers = [t.due_at for t in await pending_timers(fresh_sessions) if t.kind == "breach"]
    assert breach_timers == [wednesday_ten]
    # The plan's clients learn their new calendar.
    assigned = [e for e in await client_events(fresh_sessions, client_id)]
    assert assigned[-1].data["calendar"]["timezone"] == "Europe/London"
    assert assigned[-1].data["plan_version"] == 2


# --- client assignments --------------------------------------------------------------------


async def test_a_calendar_override_counts_in_the_clients_time_zone(
    fresh_sessions: Sessions,
) -> None:
    plan_id = await new_plan(fresh_sessions, calendar=OFFICE_HOURS_LONDON)
    client_id = str(uuid.uuid4())
    await assign(fresh_sessions, client_id, plan_id, override={"timezone": "America/New_York"})

    # 10:00 UTC is 05:00 in New York: the first hour counts from 09:00 there (14:00 UTC).
    ticket_id = await open_ticket(fresh_sessions, client_id)

    assert (await clocks_of(fresh_sessions, ticket_id))["first_response"].due_at == at(300)
    assigned = (await client_events(fresh_sessions, client_id))[-1]
    assert assigned.short_type == "sla.client_plan_assigned"
    assert assigned.data["calendar"]["timezone"] == "America/New_York"
    assert assigned.data["calendar"]["hours"]["mon"] == [["09:00", "17:00"]]

    # Back to the plan's own calendar: the running clocks move.
    await assign(fresh_sessions, client_id, plan_id, when=at(1))
    assert (await clocks_of(fresh_sessions, ticket_id))["first_response"].due_at == at(60)
    assert ("sla.due_changed", "first_response") in await kinds(fresh_sessions, ticket_id)


async def test_assigning_a_plan_starts_open_tickets_clocks_from_the_assignment(
    fresh_sessions: Sessions,
) -> None:
    client_id = str(uuid.uuid4())
    untouched = await open_ticket(fresh_sessions, client_id)
    answered = await open_ticket(fresh_sessions, client_id)
    waiting = await open_ticket(fresh_sessions, client_id)
    done = await open_ticket(fresh_sessions, client_id)
    await apply_events(
        fresh_sessions,
        status(answered, client_id, "in_progress", at(5)),
        status(waiting, client_id, "waiting_on_client", at(5)),
        status(done, client_id, "resolved", at(5)),
    )
    plan_id = await new_plan(fresh_sessions)

    await assign(fresh_sessions, client_id, plan_id, when=at(100))

    fresh = await clocks_of(fresh_sessions, untouched)
    assert {metric: clock.started_at for metric, clock in fresh.items()} == {
        "first_response": at(100),
        "resolution": at(100),
    }
    # Past "new": answered already, so only resolution starts.
    assert set(await clocks_of(fresh_sessions, answered)) == {"resolution"}
    assert (await clocks_of(fresh_sessions, waiting))["resolution"].paused_at == at(100)
    assert await clocks_of(fresh_sessions, done) == {}


async def test_unassigning_cancels_running_clocks_and_nothing_moves_them_after(
    fresh_sessions: Sessions,
) -> None:
    plan_id, client_id, ticket_id = await desk_ticket(fresh_sessions)
    await apply_events(fresh_sessions, comment(ticket_id, client_id, "staff", at(5)))

    with frozen_at(at(30)):
        async with fresh_sessions() as session:
            await use_cases.unassign_plan(session, client_id=client_id)
    await apply_events(
        fresh_sessions,
        status(ticket_id, client_id, "resolved", at(40)),
        TicketReopened(ticket_id=ticket_id, client_id=client_id, reopened_at=at(50)),
    )

    clocks = await clocks_of(fresh_sessions, ticket_id)
    assert clocks["first_response"].outcome == "met"  # stopped before: history stays
    assert (clocks["resolution"].outcome, clocks["resolution"].stopped_at) == ("cancelled", at(30))
    events = await sla_events(fresh_sessions, ticket_id)
    assert [(kind, metric, data.get("outcome")) for kind, metric, data in events][-1] == (
        "sla.cancelled",
        "resolution",
        "cancelled",
    )
    assert await pending_timers(fresh_sessions) == []
    # Other services forget the plan's calendar and resolution mode from its own event.
    unassigned = (await client_events(fresh_sessions, client_id))[-1]
    assert unassigned.short_type == "sla.client_plan_unassigned"
    assert (unassigned.data["client_id"], unassigned.data["plan_id"]) == (client_id, plan_id)
    assert datetime.fromisoformat(unassigned.data["unassigned_at"]) == at(30)
    # New tickets get no clocks; assigning again starts the open ticket's clocks anew.
    assert await clocks_of(fresh_sessions, await open_ticket(fresh_sessions, client_id)) == {}
    await assign(fresh_sessions, client_id, plan_id, when=at(60))
    resolution = (await clocks_of(fresh_sessions, ticket_id))["resolution"]
    assert (resolution.cycle, resolution.started_at, resolution.outcome) == (2, at(60), None)
