"""What the HTTP API does: plans, client assignments and a ticket's SLA view.

Write paths run one transaction and commit once; invalid input raises before anything is
written, so a refused request changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.events.envelope import utc_now
from aftercare_sla import repository
from aftercare_sla.clocks import Metric, SlaClock, business_elapsed
from aftercare_sla.domain import BusinessCalendar
from aftercare_sla.models import ClientPlan, Plan, TrackedTicket


class PlanNotFoundError(LookupError):
    """The plan named in a request does not exist."""

    def __init__(self, plan_id: str) -> None:
        super().__init__(f"plan {plan_id!r} does not exist")
        self.plan_id = plan_id


async def create_plan(
    session: AsyncSession,
    *,
    name: str,
    targets: Mapping[str, Mapping[str, int]],
    calendar: Mapping[str, object] | None,
    at_risk_ratio: float,
) -> Plan:
    """Store a new plan. Raises ``CalendarError`` (nothing stored) for a bad calendar.

    The calendar is stored in the engine's canonical form, so what the plan shows is
    exactly what the clocks will use.
    """
    canonical_calendar = (
        None if calendar is None else BusinessCalendar.from_json(calendar).to_json()
    )
    plan = Plan(
        id=str(uuid.uuid4()),
        name=name,
        targets={priority: dict(minutes) for priority, minutes in targets.items()},
        calendar=canonical_calendar,
        at_risk_ratio=at_risk_ratio,
        created_at=utc_now(),
    )
    session.add(plan)
    await session.commit()
    return plan


async def get_plan(session: AsyncSession, *, plan_id: str) -> Plan | None:
    return await repository.get_plan(session, plan_id)


async def list_plans(session: AsyncSession, *, limit: int, offset: int) -> Sequence[Plan]:
    return await repository.list_plans(session, limit=limit, offset=offset)


async def assign_plan(session: AsyncSession, *, client_id: str, plan_id: str) -> ClientPlan:
    """Cover the client's tickets created from now on by ``plan_id`` (replacing any plan).

    The client need not be known here yet: ``client.created`` may still be on its way,
    and refusing would make staff retry a correct request. Tickets sla has already seen
    keep the plan they started with.
    """
    if await repository.get_plan(session, plan_id) is None:
        raise PlanNotFoundError(plan_id)
    assignment = await repository.upsert_assignment(
        session, client_id=client_id, plan_id=plan_id, assigned_at=utc_now()
    )
    await session.commit()
    return assignment


async def get_client_plan(session: AsyncSession, *, client_id: str) -> ClientPlan | None:
    return await repository.get_assignment(session, client_id)


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
    return list(Metric).index(clock.metric)


async def ticket_sla(
    session: AsyncSession, *, ticket_id: str, now: datetime | None = None
) -> TicketSlaView | None:
    """The ticket's clocks as of ``now``; None when sla has not seen the ticket."""
    ticket = await repository.get_ticket(session, ticket_id)
    if ticket is None:
        return None
    plan = None if ticket.plan_id is None else await repository.get_plan(session, ticket.plan_id)
    if plan is None:
        return TicketSlaView(ticket=ticket, clocks=[])
    calendar = repository.plan_calendar(plan)
    moment = now or utc_now()
    rows = await repository.ticket_clocks(session, ticket_id)
    clocks = sorted(map(repository.clock_from_row, rows), key=_metric_order)
    views = [ClockView(clock, business_elapsed(calendar, clock, moment)) for clock in clocks]
    return TicketSlaView(ticket=ticket, clocks=views)
