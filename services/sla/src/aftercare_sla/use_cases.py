"""What the HTTP API does: plans, client assignments and a ticket's SLA view.

Write paths run one transaction and commit once; invalid input raises before anything is
written, so a refused request changes nothing. Refusals are the exceptions in
:mod:`aftercare_sla.errors`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth import Principal
from aftercare_shared.business_time import BusinessCalendar, CalendarError
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import SLA_METRICS, ResolutionOn, SlaClientPlanAssigned
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.pagination import CursorPosition
from aftercare_sla import repository
from aftercare_sla.domain.clocks import SlaClock, business_elapsed
from aftercare_sla.errors import (
    ClientPlanNotFoundError,
    InvalidCalendarError,
    PlanNotFoundError,
    TicketNotFoundError,
    UnknownPlanError,
)
from aftercare_sla.models import SCHEMA, ClientPlan, Plan, TrackedTicket


async def create_plan(
    session: AsyncSession,
    *,
    name: str,
    targets: Mapping[str, Mapping[str, int]],
    calendar: Mapping[str, object] | None,
    at_risk_ratio: float,
    resolution_on: ResolutionOn = "release",
    resolution_environment: str = "production",
) -> Plan:
    """Store a new plan; a calendar that cannot be built is refused (nothing stored).

    The calendar is stored in the engine's canonical form, so what the plan shows is
    exactly what the clocks will use.
    """
    try:
        canonical_calendar = (
            None if calendar is None else BusinessCalendar.from_json(calendar).to_json()
        )
    except CalendarError as error:
        raise InvalidCalendarError(str(error)) from error
    plan = Plan(
        id=str(uuid.uuid4()),
        name=name,
        targets={priority: dict(minutes) for priority, minutes in targets.items()},
        calendar=canonical_calendar,
        at_risk_ratio=at_risk_ratio,
        resolution_on=resolution_on,
        resolution_environment=resolution_environment,
        created_at=utc_now(),
    )
    session.add(plan)
    await session.commit()
    return plan


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


async def assign_plan(session: AsyncSession, *, client_id: str, plan_id: str) -> ClientPlan:
    """Cover the client's tickets created from now on by ``plan_id`` (replacing any plan).

    The client need not be known here yet: ``client.created`` may still be on its way,
    and refusing would make staff retry a correct request. Tickets sla has already seen
    keep the plan they started with.
    """
    plan = await repository.get_plan(session, plan_id)
    if plan is None:
        raise UnknownPlanError(plan_id)
    assignment = await repository.upsert_assignment(
        session, client_id=client_id, plan_id=plan_id, assigned_at=utc_now()
    )
    # Other services keep what they need of the plan from this event: notify the
    # calendar (quiet hours), intake when a fixed ticket counts as resolved.
    assigned = SlaClientPlanAssigned(
        client_id=client_id,
        plan_id=plan_id,
        calendar=plan.calendar,
        assigned_at=assignment.assigned_at,
        resolution_on=plan.resolution_on,
        resolution_environment=plan.resolution_environment,
    )
    await enqueue_event(
        session,
        new_event(assigned, service=ServiceName.SLA, subject=client_id, client_id=client_id),
        schema=SCHEMA,
    )
    await session.commit()
    return assignment


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
    plan = None if ticket.plan_id is None else await repository.get_plan(session, ticket.plan_id)
    if plan is None:
        return TicketSlaView(ticket=ticket, clocks=[])
    calendar = repository.plan_calendar(plan)
    now = utc_now()
    rows = await repository.ticket_clocks(session, ticket_id)
    clocks = sorted(map(repository.clock_from_row, rows), key=_metric_order)
    views = [ClockView(clock, business_elapsed(calendar, clock, now)) for clock in clocks]
    return TicketSlaView(ticket=ticket, clocks=views)
