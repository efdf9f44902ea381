"""Apply a clock rule to one ticket's clocks and persist the outcome, in the caller's
transaction: the one path from a rule to rows, durable timers and ``sla.*`` events.

Ticket events, plan versions and client assignments all change clocks through here, so
every change reschedules its timers and announces itself the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.events.catalog import SlaMetric
from aftercare_sla import repository
from aftercare_sla.announcements import announce
from aftercare_sla.domain.clocks import SlaClock, timers_for
from aftercare_sla.domain.ticket_lifecycle import ClockEvents, PlanTerms, metric_order
from aftercare_sla.models import Clock, TrackedTicket

ClockRule = Callable[[BusinessCalendar, PlanTerms, dict[SlaMetric, SlaClock]], ClockEvents]
"""Changes to a ticket's clocks (it may add a clock), given its calendar and plan terms."""


def is_measured(ticket: TrackedTicket) -> bool:
    """A plan measures the ticket now (it had one when created or assigned, and it was
    not un-assigned since)."""
    return (
        ticket.plan_id is not None
        and ticket.plan_version is not None
        and ticket.plan_removed_at is None
    )


async def ticket_terms(session: AsyncSession, ticket: TrackedTicket) -> PlanTerms:
    assert ticket.plan_id is not None
    assert ticket.plan_version is not None
    version = await repository.get_plan_version(session, ticket.plan_id, ticket.plan_version)
    return repository.plan_terms(version)


async def apply_rule(session: AsyncSession, ticket: TrackedTicket, rule: ClockRule) -> None:
    """Load the ticket's clocks (locked), apply ``rule``, save, reschedule, announce."""
    if not is_measured(ticket):
        return
    calendar = await repository.ticket_calendar(session, ticket)
    terms = await ticket_terms(session, ticket)
    rows = await repository.ticket_clocks(session, ticket.ticket_id, for_update=True)
    rows_by_metric = {row.metric: row for row in rows}
    # Metric order, not row order: events of one change come first-response first.
    clocks = {
        row.metric: repository.clock_from_row(row)
        for row in sorted(rows, key=lambda row: metric_order(row.metric))
    }
    changes = rule(calendar, terms, clocks)
    await save_clocks(session, ticket, rows_by_metric, clocks)
    await announce(session, ticket, changes)


async def save_clocks(
    session: AsyncSession,
    ticket: TrackedTicket,
    rows_by_metric: Mapping[SlaMetric, Clock],
    clocks: Mapping[SlaMetric, SlaClock],
) -> None:
    """Write the clocks back (new ones as new rows) and replace the timers of each clock
    whose version moved."""
    for metric, clock in clocks.items():
        row = rows_by_metric.get(metric)
        if row is None:
            row = Clock(id=str(uuid.uuid4()), ticket_id=ticket.ticket_id)
            repository.copy_clock_to_row(clock, row)
            session.add(row)
            await session.flush()  # the clock before its timers
        elif row.version == clock.version:
            repository.copy_clock_to_row(clock, row)
            continue
        else:
            repository.copy_clock_to_row(clock, row)
        await repository.schedule_timers(
            session, clock_id=row.id, version=clock.version, timers=timers_for(clock)
        )
