"""Who works on a ticket: staff assign it on opening or with a PATCH (``ticket.assigned``).

An assignee is a staff subject (a staff token's ``subject``); intake keeps no staff
directory, so any subject staff name is taken as is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import history
from aftercare_intake.announcements import announce
from aftercare_intake.models import Ticket
from aftercare_shared.events.catalog import TicketAssigned


async def assign(
    session: AsyncSession, ticket: Ticket, *, assignee: str | None, actor: str, now: datetime
) -> bool:
    """Give ``ticket`` (locked by the caller) to ``assignee`` (None: nobody); whether it changed.

    Records the history entry and queues ``ticket.assigned`` in the caller's transaction.
    """
    previous = ticket.assignee
    if assignee == previous:
        return False
    ticket.assignee = assignee
    ticket.updated_at = now
    await history.record(
        session,
        ticket_id=ticket.id,
        action="assigned",
        actor=actor,
        details={"from": previous, "to": assignee},
        now=now,
    )
    await announce(
        session,
        TicketAssigned(
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            assignee=assignee,
            previous_assignee=previous,
            assigned_by=actor,
            assigned_at=now,
        ),
        subject=ticket.id,
        client_id=ticket.client_id,
    )
    return True
