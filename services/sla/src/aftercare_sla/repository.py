"""Data access for the sla schema. Nothing here commits: the caller's transaction does.

Lock order, to keep concurrent writers free of deadlocks: the consumer and the use cases
lock a ticket, then its clocks in clock id order; the timer job never waits for a lock
(it claims timers and their clocks with SKIP LOCKED), and the consumer never waits for a
timer row (it deletes stale ones with SKIP LOCKED).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar, Pause
from aftercare_shared.pagination import CursorPosition, after_position
from aftercare_sla.domain.calendars import effective_calendar
from aftercare_sla.domain.clocks import DueTimer, SlaClock
from aftercare_sla.domain.ticket_lifecycle import DONE_STATUSES, PlanTerms
from aftercare_sla.models import (
    Client,
    ClientPlan,
    Clock,
    ClockTimer,
    Plan,
    PlanVersion,
    TrackedTicket,
)

# --- plans and assignments ---------------------------------------------------------------


async def get_plan(session: AsyncSession, plan_id: str, *, for_update: bool = False) -> Plan | None:
    return await session.get(Plan, plan_id, with_for_update=for_update)


async def list_plans(
    session: AsyncSession, *, limit: int, after: CursorPosition | None
) -> Sequence[Plan]:
    """Up to ``limit`` plans in ``(created_at, id)`` order, strictly after ``after``."""
    statement = select(Plan).order_by(Plan.created_at, Plan.id).limit(limit)
    position = after_position([Plan.created_at, Plan.id], after, descending=False)
    if position is not None:
        statement = statement.where(position)
    return (await session.scalars(statement)).all()


async def get_plan_version(session: AsyncSession, plan_id: str, version: int) -> PlanVersion:
    found = await session.get(PlanVersion, (plan_id, version))
    if found is None:  # versions are never deleted while their plan exists
        raise LookupError(f"plan {plan_id} has no version {version}")
    return found


async def list_plan_versions(
    session: AsyncSession, plan_id: str, *, limit: int, after: CursorPosition | None
) -> Sequence[PlanVersion]:
    """Up to ``limit`` versions of the plan, newest first, strictly after ``after``."""
    statement = (
        select(PlanVersion)
        .where(PlanVersion.plan_id == plan_id)
        .order_by(PlanVersion.version.desc())
        .limit(limit)
    )
    position = after_position([PlanVersion.version], after, descending=True)
    if position is not None:
        statement = statement.where(position)
    return (await session.scalars(statement)).all()


def plan_terms(version: PlanVersion) -> PlanTerms:
    return PlanTerms(
        targets=version.targets,
        at_risk_ratio=version.at_risk_ratio,
        pause_on=frozenset(version.pause_on),
        on_reopen=version.on_reopen,
    )


async def get_assignment(
    session: AsyncSession, client_id: str, *, for_update: bool = False
) -> ClientPlan | None:
    return await session.get(ClientPlan, client_id, with_for_update=for_update)


async def upsert_assignment(
    session: AsyncSession,
    *,
    client_id: str,
    plan_id: str,
    assigned_at: datetime,
    calendar_override: dict[str, Any] | None,
) -> ClientPlan:
    values = {
        "plan_id": plan_id,
        "assigned_at": assigned_at,
        "calendar_override": calendar_override,
    }
    statement = (
        pg_insert(ClientPlan)
        .values(client_id=client_id, **values)
        .on_conflict_do_update(index_elements=[ClientPlan.client_id], set_=values)
        .returning(ClientPlan)
    )
    # populate_existing: an assignment loaded earlier in this session must not mask the new one.
    return (await session.scalars(statement, execution_options={"populate_existing": True})).one()


async def delete_assignment(session: AsyncSession, client_id: str) -> None:
    await session.execute(delete(ClientPlan).where(ClientPlan.client_id == client_id))


async def assignments_of_plan(session: AsyncSession, plan_id: str) -> Sequence[ClientPlan]:
    return (
        await session.scalars(
            select(ClientPlan).where(ClientPlan.plan_id == plan_id).order_by(ClientPlan.client_id)
        )
    ).all()


async def ticket_calendar(session: AsyncSession, ticket: TrackedTicket) -> BusinessCalendar:
    """The calendar the ticket's clocks count in: its plan's latest calendar with the
    client's override (the client's place, whichever plan the client has now)."""
    plan = await get_plan(session, ticket.plan_id) if ticket.plan_id else None
    assignment = await get_assignment(session, ticket.client_id)
    override = assignment.calendar_override if assignment is not None else None
    return effective_calendar(plan.calendar if plan is not None else None, override)


# --- client read model -------------------------------------------------------------------


async def upsert_client(
    session: AsyncSession, *, client_id: str, name: str, changed_at: datetime
) -> None:
    """Insert or rename; an older event never overwrites a newer name."""
    statement = pg_insert(Client).values(
        client_id=client_id, name=name, created_at=changed_at, updated_at=changed_at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Client.client_id],
            set_={"name": name, "updated_at": changed_at},
            where=Client.updated_at <= changed_at,
        )
    )


# --- tickets and clocks ------------------------------------------------------------------


async def get_ticket(
    session: AsyncSession, ticket_id: str, *, for_update: bool = False
) -> TrackedTicket | None:
    return await session.get(TrackedTicket, ticket_id, with_for_update=for_update)


async def open_tickets_without_plan(
    session: AsyncSession, client_id: str
) -> Sequence[TrackedTicket]:
    """The client's tickets that no plan measures (never had one, or it was un-assigned)
    and that are still open, locked, oldest first."""
    return (
        await session.scalars(
            select(TrackedTicket)
            .where(
                TrackedTicket.client_id == client_id,
                (TrackedTicket.plan_id.is_(None)) | (TrackedTicket.plan_removed_at.is_not(None)),
                TrackedTicket.status.not_in(sorted(DONE_STATUSES)),
            )
            .order_by(TrackedTicket.ticket_id)
            .with_for_update()
        )
    ).all()


async def covered_tickets_of_client(
    session: AsyncSession, client_id: str
) -> Sequence[TrackedTicket]:
    """The client's tickets a plan measures now, locked."""
    return (
        await session.scalars(
            select(TrackedTicket)
            .where(
                TrackedTicket.client_id == client_id,
                TrackedTicket.plan_id.is_not(None),
                TrackedTicket.plan_removed_at.is_(None),
            )
            .order_by(TrackedTicket.ticket_id)
            .with_for_update()
        )
    ).all()


async def tickets_with_running_clocks(
    session: AsyncSession, plan_id: str
) -> Sequence[TrackedTicket]:
    """Tickets of the plan with a clock still counting, locked (a calendar change moves
    their deadlines)."""
    running = select(Clock.ticket_id).where(Clock.stopped_at.is_(None))
    return (
        await session.scalars(
            select(TrackedTicket)
            .where(
                TrackedTicket.plan_id == plan_id,
                TrackedTicket.plan_removed_at.is_(None),
                TrackedTicket.ticket_id.in_(running),
            )
            .order_by(TrackedTicket.ticket_id)
            .with_for_update()
        )
    ).all()


async def ticket_clocks(
    session: AsyncSession, ticket_id: str, *, for_update: bool = False
) -> list[Clock]:
    statement = select(Clock).where(Clock.ticket_id == ticket_id).order_by(Clock.id)
    if for_update:
        statement = statement.with_for_update()
    return list((await session.scalars(statement)).all())


def clock_from_row(row: Clock) -> SlaClock:
    return SlaClock(
        metric=row.metric,
        target=timedelta(seconds=row.target_seconds),
        at_risk_ratio=row.at_risk_ratio,
        started_at=row.started_at,
        due_at=row.due_at,
        at_risk_at=row.at_risk_at,
        pauses=[_pause_from_json(pair) for pair in row.pauses],
        paused_at=row.paused_at,
        stopped_at=row.stopped_at,
        met_at=row.met_at,
        breached_at=row.breached_at,
        at_risk_reached_at=row.at_risk_reached_at,
        version=row.version,
        cycle=row.cycle,
        outcome=row.outcome,
    )


def copy_clock_to_row(clock: SlaClock, row: Clock) -> None:
    row.metric = clock.metric
    row.target_seconds = int(clock.target.total_seconds())
    row.at_risk_ratio = clock.at_risk_ratio
    row.started_at = clock.started_at
    row.due_at = clock.due_at
    row.at_risk_at = clock.at_risk_at
    row.pauses = [[start.isoformat(), end.isoformat()] for start, end in clock.pauses]
    row.paused_at = clock.paused_at
    row.stopped_at = clock.stopped_at
    row.met_at = clock.met_at
    row.breached_at = clock.breached_at
    row.at_risk_reached_at = clock.at_risk_reached_at
    row.version = clock.version
    row.cycle = clock.cycle
    row.outcome = clock.outcome


def _pause_from_json(pair: list[str]) -> Pause:
    return datetime.fromisoformat(pair[0]), datetime.fromisoformat(pair[1])


# --- durable timers ----------------------------------------------------------------------


async def schedule_timers(
    session: AsyncSession, *, clock_id: str, version: int, timers: Iterable[DueTimer]
) -> None:
    """Replace the clock's timers with ``timers`` for ``version``.

    Older timers the timer job is processing right now are skipped, not waited for: it
    drops them itself, since their version is stale.
    """
    stale = (
        select(ClockTimer.id)
        .where(ClockTimer.clock_id == clock_id, ClockTimer.clock_version != version)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(ClockTimer).where(ClockTimer.id.in_(stale)))
    rows = [
        {
            "clock_id": clock_id,
            "kind": timer.kind.value,
            "due_at": timer.due_at,
            "clock_version": version,
        }
        for timer in timers
    ]
    if rows:
        await session.execute(insert(ClockTimer), rows)


async def claim_due_timers(
    session: AsyncSession, *, now: datetime, limit: int
) -> Sequence[tuple[ClockTimer, Clock, TrackedTicket]]:
    """Lock up to ``limit`` timers due before ``now`` together with their clocks.

    Timers, and timers whose clock another transaction holds (a replica's batch, or a
    ticket event being applied), are skipped, never waited for: a stuck or dying replica
    cannot stall the others, and what it holds is fired by whoever claims it after its
    transaction ends. The scan walks ``ix_clock_timers_due_at_id`` from the oldest due
    timer and stops after ``limit`` claimable ones.
    """
    result = await session.execute(
        select(ClockTimer, Clock, TrackedTicket)
        .join(Clock, Clock.id == ClockTimer.clock_id)
        .join(TrackedTicket, TrackedTicket.ticket_id == Clock.ticket_id)
        .where(ClockTimer.due_at < now)
        .order_by(ClockTimer.due_at, ClockTimer.id)
        .limit(limit)
        .with_for_update(of=[ClockTimer, Clock], skip_locked=True)
    )
    return [(timer, clock, ticket) for timer, clock, ticket in result]


async def delete_timers(session: AsyncSession, timer_ids: Iterable[int]) -> None:
    await session.execute(delete(ClockTimer).where(ClockTimer.id.in_(list(timer_ids))))
