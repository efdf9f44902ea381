"""File one occurrence: open its ticket or count it there, keep its sample, announce.

Shared by REST reports and Sentry events; runs inside the caller's transaction (one per
request) and never commits. What it announces:

- ``ticket.created`` for a new fingerprint;
- ``ticket.occurred`` at most once per ticket per ``INTAKE_OCCURRENCE_EVENT_INTERVAL_SECONDS``,
  carrying the count since the previous announcement (the periodic flush announces what a
  storm's tail left unannounced);
- ``ticket.reopened`` (reason ``regression``) when a finished ticket's bug recurs in a
  version at or after its fix, or where no version says otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain, history, occurrence_store
from aftercare_intake.announcements import announce
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.models import Ticket
from aftercare_intake.occurrence import Occurrence
from aftercare_intake.occurrence_store import CountedTicket, SampleRow
from aftercare_intake.versions import FixedIn, is_regression
from aftercare_shared.events.catalog import (
    Priority,
    TicketCreated,
    TicketOccurred,
    TicketReopened,
    TicketStatus,
)


@dataclass(frozen=True, slots=True)
class Filed:
    ticket_id: str
    status: TicketStatus
    priority: Priority
    occurrences: int
    created: bool
    reopened: bool = False


def new_id() -> str:
    return str(uuid.uuid4())


async def file_occurrence(
    session: AsyncSession,
    *,
    client_id: str,
    occurrence: Occurrence,
    policy: OccurrencePolicy,
    now: datetime,
) -> Filed:
    priority = domain.priority_for(occurrence.severity)
    recorded = await occurrence_store.record_occurrence(
        session,
        client_id=client_id,
        fingerprint=occurrence.fingerprint,
        new_ticket=new_ticket_values(occurrence, priority),
        new_ticket_id=new_id(),
        sample=sample_of(occurrence),
        samples=policy.samples,
        now=now,
        announce_before=policy.announce_before(now),
    )
    counted = recorded.counted
    if counted is None:
        return await _announce_new_ticket(
            session,
            client_id=client_id,
            ticket_id=recorded.route.ticket_id,
            occurrence=occurrence,
            priority=priority,
            now=now,
        )
    reopened = await reopen_if_regression(session, counted, occurrence=occurrence, now=now)
    if counted.announced_now:
        await announce(
            session,
            TicketOccurred(
                ticket_id=counted.ticket_id,
                client_id=client_id,
                occurrences=counted.occurrences,
                occurred_at=now,
                new_occurrences=counted.occurrences - counted.announced_before,
                since=counted.announced_at_before,
            ),
            subject=counted.ticket_id,
            client_id=client_id,
        )
    return Filed(
        ticket_id=counted.ticket_id,
        status=domain.REOPENED_STATUS if reopened else counted.status,
        priority=counted.priority,
        occurrences=counted.occurrences,
        created=False,
        reopened=reopened,
    )


def new_ticket_values(occurrence: Occurrence, priority: Priority) -> dict[str, Any]:
    """The ticket an occurrence of a new fingerprint opens."""
    return {
        "title": occurrence.title,
        "description": occurrence.description,
        "severity": occurrence.severity,
        "priority": priority,
        "kind": domain.ticket_kind(occurrence.kind),
        "status": domain.NEW_STATUS,
        "stacktrace": occurrence.stacktrace,
        "context": occurrence.context,
    }


def sample_of(occurrence: Occurrence) -> SampleRow:
    return SampleRow(
        sample_id=new_id(),
        event_id=occurrence.event_id,
        project_id=occurrence.project_id,
        occurred_at=occurrence.occurred_at,
        title=occurrence.title,
        severity=occurrence.severity,
        platform=occurrence.platform,
        environment=occurrence.environment,
        release=occurrence.release,
        server_name=occurrence.server_name,
        details=occurrence.details,
    )


def ticket_created(
    *, client_id: str, ticket_id: str, occurrence: Occurrence, priority: Priority, now: datetime
) -> TicketCreated:
    """What a new fingerprint's ticket announces."""
    return TicketCreated(
        ticket_id=ticket_id,
        client_id=client_id,
        title=occurrence.title,
        severity=occurrence.severity,
        priority=priority,
        status=domain.NEW_STATUS,
        kind=domain.ticket_kind(occurrence.kind),
        environment=occurrence.environment,
        release=occurrence.release,
        fingerprint=occurrence.fingerprint,
        created_at=now,
    )


async def _announce_new_ticket(
    session: AsyncSession,
    *,
    client_id: str,
    ticket_id: str,
    occurrence: Occurrence,
    priority: Priority,
    now: datetime,
) -> Filed:
    await announce(
        session,
        ticket_created(
            client_id=client_id,
            ticket_id=ticket_id,
            occurrence=occurrence,
            priority=priority,
            now=now,
        ),
        subject=ticket_id,
        client_id=client_id,
    )
    return Filed(
        ticket_id=ticket_id,
        status=domain.NEW_STATUS,
        priority=priority,
        occurrences=1,
        created=True,
    )


async def reopen_if_regression(
    session: AsyncSession, counted: CountedTicket, *, occurrence: Occurrence, now: datetime
) -> bool:
    """Reopen a finished ticket whose bug is back in a version at or after its fix."""
    if counted.status not in domain.FINISHED_STATUSES or counted.close_reason is not None:
        return False  # open already, or merged (its fingerprints route elsewhere)
    fixed_in = (
        FixedIn(product=counted.fixed_in_product, version=counted.fixed_in_version)
        if counted.fixed_in_product is not None and counted.fixed_in_version is not None
        else None
    )
    if not is_regression(fixed_in, occurrence.release):
        return False  # an old deployment still running: counted, not reopened
    await session.execute(
        update(Ticket)
        .where(Ticket.id == counted.ticket_id)
        .values(
            status=domain.REOPENED_STATUS,
            resolved_at=None,
            regressed_at=now,
            regression_release=occurrence.release,
            updated_at=now,
        )
    )
    fixed_in_text = f"{fixed_in.product}@{fixed_in.version}" if fixed_in else None
    await history.record(
        session,
        ticket_id=counted.ticket_id,
        action="reopened",
        actor=domain.SYSTEM_ACTOR,
        details={
            "reason": "regression",
            "from": counted.status,
            "to": domain.REOPENED_STATUS,
            "release": occurrence.release,
            "fixed_in": fixed_in_text,
            "event_id": occurrence.event_id,
        },
        now=now,
    )
    await announce(
        session,
        TicketReopened(
            ticket_id=counted.ticket_id,
            client_id=counted.client_id,
            reopened_at=now,
            status=domain.REOPENED_STATUS,
            reason="regression",
            release=occurrence.release,
            fixed_in=fixed_in_text,
        ),
        subject=counted.ticket_id,
        client_id=counted.client_id,
    )
    return True
