"""Read models kept from other services' events: client API keys and tickets.

The platform's consumer runner dispatches each event of ``aftercare.clients`` and
``aftercare.tickets`` through :data:`handlers` inside its transaction (after the inbox
check), so each event is applied exactly once. Ticket events carry the time of the change
they describe; the repository applies a status only if nothing newer was applied, so
events arriving out of order (or replayed from the dead-letter topic) never regress it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases import repository
from aftercare_releases.models import client_api_keys, staff_token_copies
from aftercare_shared.client_keys import client_key_handlers
from aftercare_shared.consumer import EventHandlers
from aftercare_shared.events.catalog import (
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_shared.staff_token_registry import staff_token_handlers

handlers = EventHandlers()
handlers.include(client_key_handlers(client_api_keys))
handlers.include(staff_token_handlers(staff_token_copies))


@handlers.on_many(TicketCreated)
async def tickets_created(session: AsyncSession, run: Sequence[TicketCreated]) -> None:
    """A run of new tickets in one statement (the runner hands consecutive ones together)."""
    await repository.record_tickets_created(session, run)


@handlers.on(TicketUpdated)
async def ticket_updated(session: AsyncSession, updated: TicketUpdated) -> None:
    await repository.record_ticket_status(
        session,
        ticket_id=updated.ticket_id,
        client_id=updated.client_id,
        status=updated.status,
        priority=updated.priority,
        kind=updated.kind,
        changed_at=updated.updated_at,
    )


@handlers.on(TicketResolved)
async def ticket_resolved(session: AsyncSession, resolved: TicketResolved) -> None:
    await repository.record_ticket_status(
        session,
        ticket_id=resolved.ticket_id,
        client_id=resolved.client_id,
        status="resolved",
        changed_at=resolved.resolved_at,
    )


@handlers.on(TicketReopened)
async def ticket_reopened(session: AsyncSession, reopened: TicketReopened) -> None:
    await repository.record_ticket_status(
        session,
        ticket_id=reopened.ticket_id,
        client_id=reopened.client_id,
        status=reopened.status,
        changed_at=reopened.reopened_at,
    )


@handlers.on(TicketClosed)
async def ticket_closed(session: AsyncSession, closed: TicketClosed) -> None:
    await repository.record_ticket_status(
        session,
        ticket_id=closed.ticket_id,
        client_id=closed.client_id,
        status="closed",
        changed_at=closed.closed_at,
    )
