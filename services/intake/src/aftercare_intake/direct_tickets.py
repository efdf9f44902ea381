"""``POST /v1/tickets``: a ticket opened by hand, by staff for any client or by a client
key for its own (a contact's question or feature request).

It goes down the same filing path as a report (:mod:`.filing`): the same
``ticket.created``, so the same SLA clocks. Its fingerprint is its own
(``ticket:<uuid>``), so nothing is ever counted on it as a repeat.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import assignment, filing
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.errors import (
    ClientNotFoundError,
    ClientRequiredError,
    OtherClientTicketError,
    StaffOnlyError,
)
from aftercare_intake.models import Client, Ticket
from aftercare_intake.occurrence import Occurrence
from aftercare_shared.auth import Principal
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import Severity, TicketKind

FINGERPRINT_PREFIX: Final = "ticket:"


@dataclass(frozen=True, slots=True)
class NewTicket:
    client_id: str | None
    title: str
    description: str | None
    kind: TicketKind
    severity: Severity
    environment: str | None
    assignee: str | None


def _client_of(principal: Principal, asked: str | None) -> str:
    if principal.is_staff:
        if asked is None:
            raise ClientRequiredError(
                "Say which client the ticket is for (client_id).",
                errors=[{"location": "body.client_id", "message": "required", "kind": "missing"}],
            )
        return asked
    assert principal.client_id is not None
    if asked is not None and asked != principal.client_id:
        raise OtherClientTicketError("A client API key opens tickets for its own client only.")
    return principal.client_id


async def open_ticket(
    session: AsyncSession, *, principal: Principal, new: NewTicket, policy: OccurrencePolicy
) -> Ticket:
    client_id = _client_of(principal, new.client_id)
    if new.assignee is not None and not principal.is_staff:
        raise StaffOnlyError("Only staff assign tickets.")
    if await session.get(Client, client_id) is None:
        raise ClientNotFoundError("No client with that id.")
    now = utc_now()
    filed = await filing.file_occurrence(
        session,
        client_id=client_id,
        occurrence=Occurrence(
            title=new.title,
            severity=new.severity,
            fingerprint=f"{FINGERPRINT_PREFIX}{uuid.uuid4()}",
            kind=new.kind,
            description=new.description,
            environment=new.environment,
            occurred_at=now,
            details={"opened_by": principal.subject},
        ),
        policy=policy,
        now=now,
    )
    ticket = await session.get(Ticket, filed.ticket_id, with_for_update=True)
    assert ticket is not None  # filed in this very transaction
    if new.assignee is not None:
        await assignment.assign(
            session, ticket, assignee=new.assignee, actor=principal.subject, now=now
        )
    await session.commit()
    return ticket
