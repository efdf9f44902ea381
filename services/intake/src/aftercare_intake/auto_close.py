"""Resolved tickets close themselves ``INTAKE_AUTO_CLOSE_DAYS`` after their resolution.

The timer is the ticket row itself (``status = 'resolved'`` and ``resolved_at``, with a
partial index on exactly those rows), so it survives restarts and needs no schedule of
its own. Each round claims a batch of due rows with ``FOR UPDATE SKIP LOCKED``: replicas
running the job at the same time take disjoint rows, and a row closed by one is no longer
``resolved`` for the next, so each ticket closes — and ``ticket.closed`` goes out — once.
A ticket reopened in the meantime is no longer due.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain, history
from aftercare_intake.announcements import announce
from aftercare_intake.models import Ticket
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import TicketClosed

AUTO_CLOSED_REASON: Final = "auto_closed"


async def close_due_tickets(
    session: AsyncSession, *, closes_after: timedelta, batch_size: int
) -> int:
    """Close up to ``batch_size`` tickets resolved at least ``closes_after`` ago; commits.

    Returns how many it closed.
    """
    now = utc_now()
    due = list(
        (
            await session.scalars(
                select(Ticket)
                .where(
                    Ticket.status == domain.RESOLVED_STATUS,
                    Ticket.resolved_at <= now - closes_after,
                )
                .order_by(Ticket.resolved_at)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    for ticket in due:
        ticket.status = domain.CLOSED_STATUS
        ticket.updated_at = now
        await history.record(
            session,
            ticket_id=ticket.id,
            action="status_changed",
            actor=domain.SYSTEM_ACTOR,
            details={
                "from": domain.RESOLVED_STATUS,
                "to": domain.CLOSED_STATUS,
                "reason": AUTO_CLOSED_REASON,
            },
            now=now,
        )
        await announce(
            session,
            TicketClosed(
                ticket_id=ticket.id,
                client_id=ticket.client_id,
                closed_at=now,
                reason=AUTO_CLOSED_REASON,
            ),
            subject=ticket.id,
            client_id=ticket.client_id,
        )
    await session.commit()
    return len(due)
