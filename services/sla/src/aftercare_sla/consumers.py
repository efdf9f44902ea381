"""What sla does with other services' events (consumer group ``SLA_CONSUMER_GROUP``).

- ``aftercare.clients``: the client read model and the client-key read model (so client
  systems can call sla with the key intake issued them).
- ``aftercare.tickets``: start, pause, resume and stop the tickets' SLA clocks.

Other event types are ignored: newer producers may publish types this build does not know.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.client_keys import apply_client_key_event
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    ClientCreated,
    ClientUpdated,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_shared.events.factory import payload_as
from aftercare_sla import repository, ticket_events
from aftercare_sla.models import client_api_keys


async def handle_event(session: AsyncSession, event: CloudEvent) -> None:
    """Apply one event in the runner's transaction; never commits, raises on failure."""
    short_type = event.short_type
    if short_type == ClientCreated.event_type:
        created = payload_as(event, ClientCreated)
        await repository.upsert_client(
            session, client_id=created.client_id, name=created.name, changed_at=created.created_at
        )
    elif short_type == ClientUpdated.event_type:
        updated = payload_as(event, ClientUpdated)
        await repository.upsert_client(
            session, client_id=updated.client_id, name=updated.name, changed_at=updated.updated_at
        )
    elif short_type == TicketCreated.event_type:
        await ticket_events.ticket_created(session, payload_as(event, TicketCreated))
    elif short_type == TicketUpdated.event_type:
        await ticket_events.ticket_updated(session, payload_as(event, TicketUpdated))
    elif short_type == TicketCommented.event_type:
        await ticket_events.ticket_commented(session, payload_as(event, TicketCommented))
    elif short_type == TicketResolved.event_type:
        await ticket_events.ticket_status_event(session, payload_as(event, TicketResolved))
    elif short_type == TicketClosed.event_type:
        await ticket_events.ticket_status_event(session, payload_as(event, TicketClosed))
    elif short_type == TicketReopened.event_type:
        await ticket_events.ticket_status_event(session, payload_as(event, TicketReopened))
    else:
        await apply_client_key_event(session, event, client_api_keys)
