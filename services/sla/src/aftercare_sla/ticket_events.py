"""Apply ticket events to the tickets' SLA clocks, inside the consumer's transaction.

Nothing here commits: the consumer runner commits the changes, the outbox rows and the
inbox row together. Times come from the events, never from the wall clock, so a late or
re-delivered event is judged by when things happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy import Insert, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.db import column_arrays, table_of, unnested_rows
from aftercare_shared.events.catalog import (
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
from aftercare_sla.clock_changes import apply_rule, save_clocks
from aftercare_sla.domain.clocks import SlaClock
from aftercare_sla.domain.ticket_lifecycle import (
    Change,
    ClockEvents,
    PlanTerms,
    client_replied,
    priority_changed,
    resolved_by_fix,
    staff_replied,
    start_ticket_clocks,
    status_changed,
)
from aftercare_sla.models import ClientPlan, Plan, TrackedTicket

logger = structlog.get_logger(__name__)

MANUAL_RESOLUTION = "manual"
"""``ticket.resolved`` with this ``resolution`` is staff resolving the ticket by hand."""


def _track_new_tickets() -> Insert:
    """``INSERT … SELECT`` of a run of new tickets, each with its client's plan, if any.

    Built once, at import. One statement for a run of ``ticket.created`` (the consumer's
    set-based form): per event, looking the ticket and the client's plan up and adding
    the row through the ORM's unit of work took three round trips and most of sla's CPU
    per event. A ticket already tracked is left alone (``ON CONFLICT DO NOTHING``): the
    same ticket announced twice keeps the clocks it has. Returns each new ticket's plan.
    """
    tracked, assignments, plans = table_of(TrackedTicket), table_of(ClientPlan), table_of(Plan)
    run = unnested_rows(tracked, ("ticket_id", "client_id", "priority", "status", "created_at"))
    # An assignment always names an existing plan (foreign key): the plan's latest version
    # is the one new tickets get, as for one event at a time.
    rows = select(
        run.c.ticket_id,
        run.c.client_id,
        plans.c.id,
        plans.c.version,
        run.c.priority,
        run.c.status,
        run.c.created_at,
        run.c.created_at,
    ).select_from(
        run.outerjoin(assignments, assignments.c.client_id == run.c.client_id).outerjoin(
            plans, plans.c.id == assignments.c.plan_id
        )
    )
    columns = ["ticket_id", "client_id", "plan_id", "plan_version"]
    columns += ["priority", "status", "created_at", "updated_at"]
    return (
        insert(tracked)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=[tracked.c.ticket_id])
        .returning(tracked.c.ticket_id, tracked.c.plan_id)
    )


_TRACK_NEW_TICKETS = _track_new_tickets()


async def tickets_created(session: AsyncSession, run: Sequence[TicketCreated]) -> None:
    """Track the run's new tickets; start the clocks of those whose client has a plan.

    Same effect as one event at a time in run order: the first ``ticket.created`` of a
    ticket tracks it, later ones change nothing; without a plan there is no promise, but
    the ticket is remembered so its SLA view can say so and a plan assigned later can
    start its clocks.
    """
    firsts: dict[str, TicketCreated] = {}
    for created in run:
        firsts.setdefault(created.ticket_id, created)
    first_of_each = list(firsts.values())
    inserted = await session.execute(
        _TRACK_NEW_TICKETS,
        column_arrays(first_of_each, "ticket_id", "client_id", "priority", "status", "created_at"),
    )
    planned = {ticket_id for ticket_id, plan_id in inserted if plan_id is not None}
    if not planned:
        return
    tickets = {
        ticket.ticket_id: ticket
        for ticket in await session.scalars(
            select(TrackedTicket).where(TrackedTicket.ticket_id.in_(sorted(planned)))
        )
    }
    for created in first_of_each:
        if created.ticket_id in planned:
            await start_clocks(session, tickets[created.ticket_id], started_at=created.created_at)


async def start_clocks(
    session: AsyncSession, ticket: TrackedTicket, *, started_at: datetime
) -> None:
    """Start the clocks of a ticket its plan (``plan_id``/``plan_version``) starts covering.

    A ticket measured before (its plan was un-assigned, then a plan assigned again) starts
    new cycles in its existing clocks.
    """
    assert ticket.plan_id is not None
    assert ticket.plan_version is not None
    version = await repository.get_plan_version(session, ticket.plan_id, ticket.plan_version)
    terms = repository.plan_terms(version)
    calendar = await repository.ticket_calendar(session, ticket)
    clocks, changes = start_ticket_clocks(
        calendar, terms, priority=ticket.priority, started_at=started_at, status=ticket.status
    )
    rows = {
        row.metric: row
        for row in await repository.ticket_clocks(session, ticket.ticket_id, for_update=True)
    }
    for metric, clock in clocks.items():
        if metric in rows:
            clock.version = rows[metric].version + 1
            clock.cycle = rows[metric].cycle + 1
    await save_clocks(session, ticket, rows, clocks)
    await announce(session, ticket, changes)


async def ticket_updated(session: AsyncSession, updated: TicketUpdated) -> None:
    """Status changes drive the clocks; a priority change re-targets them.

    The status change is applied first: when triage answers the client and raises the
    priority in one step, the answer is judged against the target that was in force.
    Only a staff change answers the client (``actor_kind`` absent: older producers, when
    only staff could change a ticket).
    """
    ticket = await _locked_ticket(session, updated.ticket_id)
    if ticket is None:
        return
    previous_status, previous_priority = ticket.status, ticket.priority
    ticket.status, ticket.priority = updated.status, updated.priority
    ticket.updated_at = max(ticket.updated_at, updated.updated_at)
    change = Change(updated.updated_at, by_staff=updated.actor_kind in (None, "staff"))

    def rule(
        calendar: BusinessCalendar, terms: PlanTerms, clocks: dict[SlaMetric, SlaClock]
    ) -> ClockEvents:
        changes = status_changed(
            calendar,
            clocks,
            terms,
            priority=updated.priority,
            previous=previous_status,
            current=updated.status,
            change=change,
        )
        if updated.priority != previous_priority:
            targets = terms.targets_for(updated.priority)
            changes += priority_changed(calendar, clocks, targets, change.at)
        return changes

    await apply_rule(session, ticket, rule)


async def ticket_commented(session: AsyncSession, commented: TicketCommented) -> None:
    """A public staff reply answers the client; a public client reply awaits the next one.

    Internal notes are staff talking to staff: no clock moves.
    """
    if commented.visibility != "public":
        return
    ticket = await _locked_ticket(session, commented.ticket_id)
    if ticket is None:
        return
    at = commented.created_at
    if commented.author_kind == "staff":
        await apply_rule(
            session, ticket, lambda _calendar, _terms, clocks: staff_replied(clocks, at)
        )
        return
    await apply_rule(
        session,
        ticket,
        lambda calendar, terms, clocks: client_replied(
            calendar, clocks, terms, priority=ticket.priority, status=ticket.status, at=at
        ),
    )


async def ticket_resolved(session: AsyncSession, resolved: TicketResolved) -> None:
    """Resolved by staff: a status change like any other. Resolved by a release, a
    deployment or a patch before anyone answered: first response is ``met_by_resolution``."""
    if resolved.resolution == MANUAL_RESOLUTION:
        await _status_moved(session, resolved.ticket_id, "resolved", resolved.resolved_at)
        return
    ticket = await _locked_ticket(session, resolved.ticket_id)
    if ticket is None:
        return
    ticket.status = "resolved"
    ticket.updated_at = max(ticket.updated_at, resolved.resolved_at)
    await apply_rule(
        session,
        ticket,
        lambda _calendar, _terms, clocks: resolved_by_fix(clocks, resolved.resolved_at),
    )


async def ticket_closed(session: AsyncSession, closed: TicketClosed) -> None:
    await _status_moved(session, closed.ticket_id, "closed", closed.closed_at)


async def ticket_reopened(session: AsyncSession, reopened: TicketReopened) -> None:
    """The ticket is back in the status the event names; resolution resumes or restarts as
    the plan says."""
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
    await apply_rule(
        session,
        ticket,
        lambda calendar, terms, clocks: status_changed(
            calendar,
            clocks,
            terms,
            priority=ticket.priority,
            previous=previous_status,
            current=status,
            change=Change(at),
        ),
    )


async def _locked_ticket(session: AsyncSession, ticket_id: str) -> TrackedTicket | None:
    ticket = await repository.get_ticket(session, ticket_id, for_update=True)
    if ticket is None:
        # Created before sla tracked tickets, or its creation went to the DLQ: there is
        # no clock to move, and guessing a start time would report a made-up SLA.
        logger.warning("event for a ticket sla does not know; ignored", ticket_id=ticket_id)
    return ticket
