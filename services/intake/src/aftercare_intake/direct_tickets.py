"""``POST /v1/tickets``: a ticket opened by hand, by staff for any client or by a client
key for its own (a contact's question or feature request).

It goes down the same filing path as a report (:mod:`.filing`): the same
``ticket.created``, so the same SLA clocks. Its fingerprint is its own
(``ticket:<uuid>``), so nothing is ever counted on it as a repeat. An
``Idempotency-Key`` makes a retried request answer with the ticket it opened the first
time (:mod:`.idempotency`), instead of opening a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import assignment, filing, idempotency
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
ROUTE: Final = "POST /v1/tickets"


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


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """The request's ``Idempotency-Key`` and the request body it was sent with."""

    key: str
    body: dict[str, Any]
    ttl: timedelta


@dataclass(frozen=True, slots=True)
class OpenedTicket:
    """The answer: the ticket as rendered when it was opened, and whether this is a replay."""

    body: dict[str, Any]
    replayed: bool

    @property
    def ticket_id(self) -> str:
        return str(self.body["id"])


async def open_ticket(
    session: AsyncSession,
    *,
    principal: Principal,
    new: NewTicket,
    policy: OccurrencePolicy,
    render: Callable[[Ticket], Awaitable[dict[str, Any]]],
    idempotent: IdempotentRequest | None = None,
) -> OpenedTicket:
    """File the ticket and answer with ``render(ticket)``, both in one transaction."""
    client_id = _client_of(principal, new.client_id)
    if new.assignee is not None and not principal.is_staff:
        raise StaffOnlyError("Only staff assign tickets.")
    if await session.get(Client, client_id) is None:
        raise ClientNotFoundError("No client with that id.")
    owner = idempotency.owner_of(principal)
    if idempotent is not None:
        earlier = await idempotency.claim(
            session,
            owner=owner,
            key=idempotent.key,
            request=idempotency.request_hash(ROUTE, idempotent.body),
            ttl=idempotent.ttl,
        )
        if earlier is not None:
            return OpenedTicket(earlier.body, replayed=True)
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
    body = await render(ticket)
    if idempotent is not None:
        answer = idempotency.StoredAnswer(201, body)
        await idempotency.remember(session, owner=owner, key=idempotent.key, answer=answer)
    await session.commit()
    return OpenedTicket(body, replayed=False)
