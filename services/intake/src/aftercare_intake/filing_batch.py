"""File many occurrences at once: :func:`aftercare_intake.filing.file_occurrence` for a
batch whose fingerprints mostly exist already (a timer round's further misses).

Counting is one statement for the whole batch (:mod:`aftercare_intake.occurrence_batch`)
and the ``ticket.occurred`` announcements it decides are queued in one batched outbox INSERT.
What the batch cannot count set-based keeps the one-by-one path, so the outcome is the
same: an occurrence whose fingerprint is new opens its ticket through
:func:`~aftercare_intake.filing.file_occurrence`, and a finished ticket's recurrence is
reopened as a regression by :func:`~aftercare_intake.filing.reopen_if_regression`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import filing, occurrence_batch
from aftercare_intake.announcements import announce_many
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.occurrence import Occurrence
from aftercare_shared.events.catalog import EventPayload, TicketOccurred


async def file_occurrences(
    session: AsyncSession,
    occurrences: Sequence[tuple[str, Occurrence]],
    *,
    policy: OccurrencePolicy,
    now: datetime,
) -> None:
    """File ``(client_id, occurrence)`` pairs (distinct fingerprints) in the caller's
    transaction; never commits."""
    counted = await occurrence_batch.count_existing(
        session,
        occurrences,
        sample_ids=[str(uuid.uuid4()) for _ in occurrences],
        samples=policy.samples,
        now=now,
        announce_before=policy.announce_before(now),
    )
    for client_id, occurrence in counted.unrouted:
        await filing.file_occurrence(
            session, client_id=client_id, occurrence=occurrence, policy=policy, now=now
        )
    announcements: list[tuple[EventPayload, str, str | None]] = []
    for ticket, occurrence in counted.tickets:
        await filing.reopen_if_regression(session, ticket, occurrence=occurrence, now=now)
        if ticket.announced_now:
            event = TicketOccurred(
                ticket_id=ticket.ticket_id,
                client_id=ticket.client_id,
                occurrences=ticket.occurrences,
                occurred_at=now,
                new_occurrences=ticket.occurrences - ticket.announced_before,
                since=ticket.announced_at_before,
            )
            announcements.append((event, ticket.ticket_id, ticket.client_id))
    await announce_many(session, announcements)
