"""Apply ticket events to the tickets' SLA clocks, inside the consumer's transaction.

Nothing here commits: the consumer runner commits the changes, the outbox rows and the
inbox row together. Times come from the events, never from the wall clock, so a late or
re-delivered event is judged by when things happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.events.catalog import (
    SLA_METRICS,
    SlaMetric,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketStatus,
    TicketUpdated,
)
from aftercare_sla import repository
from aftercare_sla.announcements import announce
from aftercare_sla.domain.clocks import SlaClock, timers_for
from aftercare_sla.domain.ticket_lifecycle import (
    ClockEvents,
    clock_targets,
    first_response_given,
    priority_changed,
    start_ticket_clocks,
    status_changed,
)
from aftercare_sla.models import Clock, Plan, TrackedTicket

logger = structlog.get_logger(__name__)

ClockRule = Callable[[BusinessCalendar, dict[SlaMetric, SlaClock]], ClockEvents]
"""Changes a ticket event makes to the ticket's clocks, given the plan's calendar."""


async def ticket_created(session: AsyncSession, created: TicketCreated) -> None:
    """Track the ticket; start its clocks when its client has a plan."""
    if await repository.get_ticket(session, created.ticket_id) is not None:
        return  # the same ticket announced twice: its clocks are already running
    plan = await repository.plan_of_client(session, created.client_id)
    ticket = TrackedTicket(
        ticket_id=created.ticket_id,
        client_id=created.client_id,
        plan_id=plan.id if plan is not None else None,
        priority=created.priority,
        status=created.status,
        created_at=created.created_at,
        updated_at=created.created_at,
    )
    session.add(ticket)
    if plan is None:
        # No plan, no promise: the ticket is remembered so its SLA view can say so.
        return
    clocks, changes = start_ticket_clocks(
        repository.plan_calendar(plan),
        targets=clock_targets(plan.targets, created.priority),
        at_risk_ratio=plan.at_risk_ratio,
        created_at=created.created_at,
    )
    await session.flush()  # the ticket row first: clocks refer to it
    rows = {metric: Clock(id=str(uuid.uuid4()), ticket_id=ticket.ticket_id) for metric in clocks}
    for metric, row in rows.items():
        repository.copy_clock_to_row(clocks[metric], row)
    session.add_all(rows.values())
    await session.flush()  # and the clocks before their timers
    for metric, row in rows.items():
        await repository.schedule_timers(
            session, clock_id=row.id, version=row.version, timers=timers_for(clocks[metric])
        )
    await announce(session, ticket, changes)


async def ticket_updated(session: AsyncSession, updated: TicketUpdated) -> None:
    """Status changes drive the clocks; a priority change re-targets them.

    The status change is applied first: when triage answers the client and raises the
    priority in one step, the answer is judged against the target that was in force.
    """
    ticket = await _locked_ticket(session, updated.ticket_id)
    if ticket is None:
        return
    previous_status, previous_priority = ticket.status, ticket.priority
    ticket.status, ticket.priority = updated.status, updated.priority
    ticket.updated_at = max(ticket.updated_at, updated.updated_at)
    plan = await _ticket_plan(session, ticket)
    at = updated.updated_at

    def rule(calendar: BusinessCalendar, clocks: dict[SlaMetric, SlaClock]) -> ClockEvents:
        changes = status_changed(
            calendar, clocks, previous=previous_status, current=updated.status, at=at
        )
        if plan is not None and updated.priority != previous_priority:
            targets = clock_targets(plan.targets, updated.priority)
            changes += priority_changed(calendar, clocks, targets, at)
        return changes

    await _apply_to_clocks(session, ticket, plan, rule)


async def ticket_commented(session: AsyncSession, commented: TicketCommented) -> None:
    """A staff comment is the first response; a client's comment changes nothing."""
    if commented.author_kind != "staff":
        return
    ticket = await _locked_ticket(session, commented.ticket_id)
    if ticket is None:
        return
    await _apply_to_clocks(
        session,
        ticket,
        await _ticket_plan(session, ticket),
        lambda _calendar, clocks: first_response_given(clocks, commented.created_at),
    )


async def ticket_resolved(session: AsyncSession, resolved: TicketResolved) -> None:
    await _status_moved(session, resolved.ticket_id, "resolved", resolved.resolved_at)


async def ticket_closed(session: AsyncSession, closed: TicketClosed) -> None:
    await _status_moved(session, closed.ticket_id, "closed", closed.closed_at)


async def ticket_reopened(session: AsyncSession, reopened: TicketReopened) -> None:
    """The ticket is back in the status the event names; the resolution clock carries on."""
    await _status_moved(session, reopened.ticket_id, reopened.status, reopened.reopened_at)


async def _status_moved(
    session: AsyncSession, ticket_id: str, status: TicketStatus, at: datetime
) -> None:
    """Resolved, closed and reopened move the status; the clocks follow the status rules."""
    ticket = await _locked_ticket(session, ticket_id)
    if ticket is None:
        return
    previous_status = ticket.status
    ticket.status = status
    ticket.updated_at = max(ticket.updated_at, at)
    await _apply_to_clocks(
        session,
        ticket,
        await _ticket_plan(session, ticket),
        lambda calendar, clocks: status_changed(
            calendar, clocks, previous=previous_status, current=status, at=at
        ),
    )


async def _locked_ticket(session: AsyncSession, ticket_id: str) -> TrackedTicket | None:
    ticket = await repository.get_ticket(session, ticket_id, for_update=True)
    if ticket is None:
        # Created before sla tracked tickets, or its creation went to the DLQ: there is
        # no clock to move, and guessing a start time would report a made-up SLA.
        logger.warning("event for a ticket sla does not know; ignored", ticket_id=ticket_id)
    return ticket


async def _ticket_plan(session: AsyncSession, ticket: TrackedTicket) -> Plan | None:
    return None if ticket.plan_id is None else await repository.get_plan(session, ticket.plan_id)


async def _apply_to_clocks(
    session: AsyncSession, ticket: TrackedTicket, plan: Plan | None, rule: ClockRule
) -> None:
    """Load the ticket's clocks, apply ``rule``, save them, reschedule, announce."""
    if plan is None:
        return
    rows = await repository.ticket_clocks(session, ticket.ticket_id, for_update=True)
    by_metric = {row.metric: repository.clock_from_row(row) for row in rows}
    # Metric order, not row order: events of one change come first-response first.
    clocks = {metric: by_metric[metric] for metric in SLA_METRICS if metric in by_metric}
    changes = rule(repository.plan_calendar(plan), clocks)
    for row in rows:
        clock = clocks[row.metric]
        rescheduled = clock.version != row.version
        repository.copy_clock_to_row(clock, row)
        if rescheduled:
            await repository.schedule_timers(
                session, clock_id=row.id, version=clock.version, timers=timers_for(clock)
            )
    await announce(session, ticket, changes)
