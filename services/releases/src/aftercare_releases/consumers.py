"""Read models kept from other services' events: client API keys and tickets.

The consumer runner calls :func:`handle_event` inside its transaction (after the inbox
check), so each event is applied exactly once; errors propagate so the runner retries
and, in the end, dead-letters the record.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases import repository
from aftercare_releases.models import client_api_keys
from aftercare_shared.client_keys import apply_client_key_event
from aftercare_shared.consumer import PermanentEventError
from aftercare_shared.events import CloudEvent, EventDecodeError
from aftercare_shared.events.catalog import (
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_shared.events.factory import payload_as
from aftercare_shared.topics import CLIENTS, TICKETS

CONSUMED_TOPICS: tuple[str, ...] = (CLIENTS, TICKETS)

# intake sends a reopened ticket back to triage (DESIGN: ticket statuses).
_REOPENED_STATUS = "triaged"


async def handle_event(session: AsyncSession, event: CloudEvent) -> None:
    """Apply one event to the read models; types this service ignores are no-ops."""
    try:
        await _apply(session, event)
    except EventDecodeError as error:
        # A payload that does not fit its contract will not fit on a retry either.
        raise PermanentEventError(str(error)) from error


async def _apply(session: AsyncSession, event: CloudEvent) -> None:
    if await apply_client_key_event(session, event, client_api_keys):
        return
    match event.short_type:
        case TicketCreated.event_type:
            created = payload_as(event, TicketCreated)
            await repository.record_ticket_created(
                session,
                ticket_id=created.ticket_id,
                client_id=created.client_id,
                title=created.title,
                priority=created.priority,
                status=created.status,
                created_at=created.created_at,
            )
        case TicketUpdated.event_type:
            updated = payload_as(event, TicketUpdated)
            await repository.record_ticket_status(
                session,
                ticket_id=updated.ticket_id,
                client_id=updated.client_id,
                status=updated.status,
                priority=updated.priority,
                changed_at=updated.updated_at,
            )
        case TicketResolved.event_type:
            resolved = payload_as(event, TicketResolved)
            await repository.record_ticket_status(
                session,
                ticket_id=resolved.ticket_id,
                client_id=resolved.client_id,
                status="resolved",
                changed_at=resolved.resolved_at,
            )
        case TicketReopened.event_type:
            reopened = payload_as(event, TicketReopened)
            await repository.record_ticket_status(
                session,
                ticket_id=reopened.ticket_id,
                client_id=reopened.client_id,
                status=_REOPENED_STATUS,
                changed_at=reopened.reopened_at,
            )
        case TicketClosed.event_type:
            closed = payload_as(event, TicketClosed)
            await repository.record_ticket_status(
                session,
                ticket_id=closed.ticket_id,
                client_id=closed.client_id,
                status="closed",
                changed_at=closed.closed_at,
            )
        case _:
            return
