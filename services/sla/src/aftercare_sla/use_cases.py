"""What the HTTP API does: plans, client assignments and a ticket's SLA view.

Write paths run one transaction and commit once; invalid input raises before anything is
written, so a refused request changes nothing. Refusals are the exceptions in
:mod:`aftercare_sla.errors`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth import Principal
from aftercare_shared.business_time import BusinessCalendar, CalendarError
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    SLA_METRICS,
    TICKET_STATUSES,
    ResolutionOn,
    SlaClientPlanAssigned,
    SlaClientPlanUnassigned,
    SlaMetric,
    TicketStatus,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.pagination import CursorPosition
from aftercare_shared.patch import UNSET, Unset
from aftercare_sla import repository
from aftercare_sla.clock_changes import ClockRule, apply_rule
from aftercare_sla.domain.calendars import effective_calendar_json
from aftercare_sla.domain.clocks import SlaClock, business_elapsed, cancel_clock, recompute_due
from aftercare_sla.domain.ticket_lifecycle import (
    DEFAULT_PAUSE_ON,
    ClockEvents,
    OnReopen,
    PlanTerms,
)
from aftercare_sla.errors import (
    ClientPlanNotFoundError,
    InvalidCalendarError,
    PlanNotFoundError,
    TicketNotFoundError,
    UnknownPlanError,
)
from aftercare_sla.models import SCHEMA, ClientPlan, Plan, PlanVersion, TrackedTicket
from aftercare_sla.ticket_events import start_clocks


async def create_plan(
    session: AsyncSession,
    *,
    name: str,
    targets: Mapping[str, Mapping[str, int]],
    calendar: Mapping[str, object] | None,
    at_risk_ratio: float,
    resolution_on: ResolutionOn = "release",
    resolution_environment: str = "production",
    pause_on: Sequence[TicketStatus] = DEFAULT_PAUSE_ON,
    on_reopen: OnReopen = "resume",
) -> Plan:
    """Store a new plan (its version 1); a calendar that cannot be built is refused
    (nothing stored).

    The calendar is stored in the engine's canonical form, so what the plan shows is
    exactly what the clocks will use.
    """
    now = utc_now()
    plan = Plan(
        id=str(uuid.uuid4()),
        name=name,
        targets=_stored_targets(targets),
        calendar=_canonical_calendar(calendar),
        at_risk_ratio=at_risk_ratio,
        resolution_on=resolution_on,
        resolution_environment=resolution_environment,
        pause_on=_stored_pause_on(pause_on),
        on_reopen=on_reopen,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    await session.flush()
    session.add(_version_of(plan, created_at=now))
    await session.commit()
    return plan


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """A PATCH of a plan: a field left UNSET keeps its value; ``calendar`` None is 24x7."""

    name: str | Unset = UNSET
    targets: Mapping[str, Mapping[str, int | None]] | Unset = UNSET
    calendar: Mapping[str, object] | Unset | None = UNSET
    at_risk_ratio: float | Unset = UNSET
    resolution_on: ResolutionOn | Unset = UNSET
    resolution_environment: str | Unset = UNSET
    pause_on: Sequence[TicketStatus] | Unset = UNSET
    on_reopen: OnReopen | Unset = UNSET


async def change_plan(session: AsyncSession, *, plan_id: str, changes: PlanChanges) -> Plan:
    """Make a new version of the plan from the fields changed.

    Tickets already measured keep the targets and rules of their version; tickets created
    from now on get the new one. The calendar is the plan's place in the world, not a
    promise per ticket: when it changes, every running clock of the plan gets its due
    time recomputed (``sla.due_changed``). The plan's clients are told the new version
    and their effective calendar (``sla.client_plan_assigned``).
    """
    plan = await repository.get_plan(session, plan_id, for_update=True)
    if plan is None:
        raise PlanNotFoundError(plan_id)
    if all(isinstance(getattr(changes, field.name), Unset) for field in fields(changes)):
        return plan  # nothing sent: no new version (the request's session ends the lock)
    calendar_changed = False
    if not isinstance(changes.calendar, Unset):
        calendar = _canonical_calendar(changes.calendar)
        calendar_changed = calendar != plan.calendar
        plan.calendar = calendar
    if not isinstance(changes.name, Unset):
        plan.name = changes.name
    if not isinstance(changes.targets, Unset):
        plan.targets = _stored_targets(changes.targets)
    if not isinstance(changes.at_risk_ratio, Unset):
        plan.at_risk_ratio = changes.at_risk_ratio
    if not isinstance(changes.resolution_on, Unset):
        plan.resolution_on = changes.resolution_on
    if not isinstance(changes.resolution_environment, Unset):
        plan.resolution_environment = changes.resolution_environment
    if not isinstance(changes.pause_on, Unset):
        plan.pause_on = _stored_pause_on(changes.pause_on)
    if not isinstance(changes.on_reopen, Unset):
        plan.on_reopen = changes.on_reopen
    now = utc_now()
    plan.version += 1
    plan.updated_at = now
    session.add(_version_of(plan, created_at=now))
    await session.flush()
    if calendar_changed:
        for ticket in await repository.tickets_with_running_clocks(session, plan.id):
            await apply_rule(session, ticket, _recompute_due_times(now))
    for assignment in await repository.assignments_of_plan(session, plan.id):
        await _announce_assignment(session, assignment, plan)
    await session.commit()
    return plan


def _recompute_due_times(now: datetime) -> ClockRule:
    """The calendar changed: every clock still counting gets its deadlines again."""

    def rule(
        calendar: BusinessCalendar, _terms: PlanTerms, clocks: dict[SlaMetric, SlaClock]
    ) -> ClockEvents:
        return [
            (clock, event)
            for clock in clocks.values()
            for event in recompute_due(calendar, clock, now)
        ]

    return rule


async def list_plan_versions(
    session: AsyncSession, *, plan_id: str, limit: int, after: CursorPosition | None
) -> Sequence[PlanVersion]:
    """Newest first, up to ``limit`` versions strictly after the ``(version,)`` ``after``."""
    if await repository.get_plan(session, plan_id) is None:
        raise PlanNotFoundError(plan_id)
    return await repository.list_plan_versions(session, plan_id, limit=limit, after=after)


def _canonical_calendar(calendar: Mapping[str, object] | None) -> dict[str, Any] | None:
    try:
        return None if calendar is None else BusinessCalendar.from_json(calendar).to_json()
    except CalendarError as error:
        raise InvalidCalendarError(str(error)) from error


def _stored_targets(targets: Mapping[str, Mapping[str, int | None]]) -> dict[str, dict[str, int]]:
    """Per priority, the targets set (an optional metric left out is not stored)."""
    return {
        priority: {name: value for name, value in minutes.items() if value is not None}
        for priority, minutes in targets.items()
    }


def _stored_pause_on(pause_on: Sequence[TicketStatus]) -> list[TicketStatus]:
    """Catalog order, no repeats: the same set always reads the same."""
    return [status for status in TICKET_STATUSES if status in set(pause_on)]


def _version_of(plan: Plan, *, created_at: datetime) -> PlanVersion:
    return PlanVersion(
        plan_id=plan.id,
        version=plan.version,
        name=plan.name,
        targets=plan.targets,
        calendar=plan.calendar,
        at_risk_ratio=plan.at_risk_ratio,
        resolution_on=plan.resolution_on,
        resolution_environment=plan.resolution_environment,
        pause_on=plan.pause_on,
        on_reopen=plan.on_reopen,
        created_at=created_at,
    )


async def get_plan(session: AsyncSession, *, plan_id: str) -> Plan:
    plan = await repository.get_plan(session, plan_id)
    if plan is None:
        raise PlanNotFoundError(plan_id)
    return plan


async def list_plans(
    session: AsyncSession, *, limit: int, after: CursorPosition | None
) -> Sequence[Plan]:
    """Oldest first, up to ``limit`` plans strictly after the ``(created_at, id)`` ``after``."""
    return await repository.list_plans(session, limit=limit, after=after)


async def assign_plan(
    session: AsyncSession,
    *,
    client_id: str,
    plan_id: str,
    calendar_override: Mapping[str, object] | None = None,
) -> ClientPlan:
    """Cover the client's tickets by ``plan_id`` (replacing any plan), in the client's
    calendar: the plan's, with ``calendar_override`` (time zone, holidays) applied.

    The client need not be known here yet: ``client.created`` may still be on its way,
    and refusing would make staff retry a correct request. Tickets measured already keep
    the plan (and version) they started with, but count in the client's new calendar
    (their running clocks' due times are recomputed). Open tickets no plan measures yet
    start their clocks now, from the assignment time: first response only if the ticket
    is still ``new``, resolution always (paused at once in a ``pause_on`` status).
    """
    plan = await repository.get_plan(session, plan_id)
    if plan is None:
        raise UnknownPlanError(plan_id)
    override = None if not calendar_override else dict(calendar_override)
    try:
        effective_calendar_json(plan.calendar, override)
    except CalendarError as error:
        raise InvalidCalendarError(str(error), location="body.calendar_override") from error
    now = utc_now()
    previous = await repository.get_assignment(session, client_id, for_update=True)
    previous_override = previous.calendar_override if previous is not None else None
    assignment = await repository.upsert_assignment(
        session,
        client_id=client_id,
        plan_id=plan_id,
        assigned_at=now,
        calendar_override=override,
    )
    if previous is not None and previous_override != override:
        for ticket in await repository.covered_tickets_of_client(session, client_id):
            await apply_rule(session, ticket, _recompute_due_times(now))
    for ticket in await repository.open_tickets_without_plan(session, client_id):
        ticket.plan_id, ticket.plan_version, ticket.plan_removed_at = plan.id, plan.version, None
        await session.flush()
        await start_clocks(session, ticket, started_at=now)
    await _announce_assignment(session, assignment, plan)
    await session.commit()
    return assignment


async def unassign_plan(session: AsyncSession, *, client_id: str) -> None:
    """The client has no plan any more: new tickets get no clocks, and the clocks still
    counting stop as ``cancelled`` (``sla.cancelled``); a breach already announced stays.
    ``sla.client_plan_unassigned`` tells notify and intake to forget the plan's calendar
    and resolution mode."""
    assignment = await repository.get_assignment(session, client_id, for_update=True)
    if assignment is None:
        raise ClientPlanNotFoundError(client_id)
    now = utc_now()
    for ticket in await repository.covered_tickets_of_client(session, client_id):
        await apply_rule(
            session,
            ticket,
            lambda _calendar, _terms, clocks: [
                (clock, event) for clock in clocks.values() for event in cancel_clock(clock, now)
            ],
        )
        ticket.plan_removed_at = now
    unassigned = SlaClientPlanUnassigned(
        client_id=client_id, plan_id=assignment.plan_id, unassigned_at=now
    )
    await repository.delete_assignment(session, client_id)
    await enqueue_event(
        session,
        new_event(unassigned, service=ServiceName.SLA, subject=client_id, client_id=client_id),
        schema=SCHEMA,
    )
    await session.commit()


async def _announce_assignment(session: AsyncSession, assignment: ClientPlan, plan: Plan) -> None:
    """``sla.client_plan_assigned``: other services keep what they need of the plan from
    it: notify the client's effective calendar (quiet hours), intake when a fixed ticket
    counts as resolved."""
    assigned = SlaClientPlanAssigned(
        client_id=assignment.client_id,
        plan_id=plan.id,
        calendar=effective_calendar_json(plan.calendar, assignment.calendar_override),
        assigned_at=assignment.assigned_at,
        resolution_on=plan.resolution_on,
        resolution_environment=plan.resolution_environment,
        plan_version=plan.version,
    )
    await enqueue_event(
        session,
        new_event(
            assigned,
            service=ServiceName.SLA,
            subject=assignment.client_id,
            client_id=assignment.client_id,
        ),
        schema=SCHEMA,
    )


async def get_client_plan(
    session: AsyncSession, *, client_id: str, viewer: Principal
) -> ClientPlan:
    """The client's assignment; another client's is "not found": existence must not leak."""
    assignment = (
        await repository.get_assignment(session, client_id)
        if viewer.may_see_client(client_id)
        else None
    )
    if assignment is None:
        raise ClientPlanNotFoundError(client_id)
    return assignment


@dataclass(frozen=True, slots=True)
class ClockView:
    clock: SlaClock
    elapsed: timedelta
    """Business time counted so far (up to the stop for a stopped clock)."""


@dataclass(frozen=True, slots=True)
class TicketSlaView:
    ticket: TrackedTicket
    clocks: list[ClockView]


def _metric_order(clock: SlaClock) -> int:
    return SLA_METRICS.index(clock.metric)


async def ticket_sla(session: AsyncSession, *, ticket_id: str, viewer: Principal) -> TicketSlaView:
    """The ticket's clocks as of now.

    A ticket sla has not seen and another client's ticket are refused alike: existence
    must not leak.
    """
    ticket = await repository.get_ticket(session, ticket_id)
    if ticket is None or not viewer.may_see_client(ticket.client_id):
        raise TicketNotFoundError(ticket_id)
    if ticket.plan_id is None:
        return TicketSlaView(ticket=ticket, clocks=[])
    calendar = await repository.ticket_calendar(session, ticket)
    now = utc_now()
    rows = await repository.ticket_clocks(session, ticket_id)
    clocks = sorted(map(repository.clock_from_row, rows), key=_metric_order)
    views = [ClockView(clock, business_elapsed(calendar, clock, now)) for clock in clocks]
    return TicketSlaView(ticket=ticket, clocks=views)
