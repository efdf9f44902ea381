"""What sla does with other services' events (consumer group ``SLA_CONSUMER_GROUP``).

- ``aftercare.clients``: the client read model and the client-key read model (so client
  systems can call sla with the key intake issued them).
- ``aftercare.tickets``: start, pause, resume and stop the tickets' SLA clocks.
- every topic it reads (also its own ``aftercare.sla``, ``aftercare.releases`` and
  ``aftercare.monitors``): the reports' read models (``aftercare_sla.reports.ingest``).

The platform's consumer runner dispatches every record through :data:`handlers`, in its
transaction. An event type that is not in the catalog, or a payload that does not decode,
goes to sla's dead-letter topic at once; catalog types sla has no handler for here (say
``ticket.occurred``) are skipped.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.client_keys import client_key_handlers
from aftercare_shared.consumer.handlers import EventHandlers
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
from aftercare_shared.staff_token_registry import staff_token_handlers
from aftercare_sla import repository, ticket_events
from aftercare_sla.models import client_api_keys, staff_token_copies
from aftercare_sla.reports.ingest import report_handlers

handlers = EventHandlers()
handlers.include(client_key_handlers(client_api_keys))
handlers.include(staff_token_handlers(staff_token_copies))


@handlers.on(ClientCreated)
async def client_created(session: AsyncSession, created: ClientCreated) -> None:
    await repository.upsert_client(
        session, client_id=created.client_id, name=created.name, changed_at=created.created_at
    )


@handlers.on(ClientUpdated)
async def client_updated(session: AsyncSession, updated: ClientUpdated) -> None:
    await repository.upsert_client(
        session, client_id=updated.client_id, name=updated.name, changed_at=updated.updated_at
    )


handlers.add_many(TicketCreated, ticket_events.tickets_created)
handlers.add(TicketUpdated, ticket_events.ticket_updated)
handlers.add(TicketCommented, ticket_events.ticket_commented)
handlers.add(TicketResolved, ticket_events.ticket_resolved)
handlers.add(TicketClosed, ticket_events.ticket_closed)
handlers.add(TicketReopened, ticket_events.ticket_reopened)
# The reports' read models, from every topic sla reads.
handlers.include(report_handlers)
