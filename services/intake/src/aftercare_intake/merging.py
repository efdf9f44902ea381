"""Merge tickets into one, and split a fingerprint back out: staff's grouping corrections.

Both lock the fingerprint routes first and the tickets second, the order every occurrence
takes too, so a merge never deadlocks with a storm on the tickets it touches and no
occurrence is counted on a ticket that is being folded away.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain, history
from aftercare_intake.announcements import announce
from aftercare_intake.errors import (
    FingerprintNotOnTicketError,
    TicketMergeError,
    TicketNotFoundError,
)
from aftercare_intake.models import OccurrenceBacklog, Ticket, TicketFingerprint
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import TicketClosed, TicketCreated, TicketMerged


async def merge_tickets(
    session: AsyncSession, *, target_id: str, ticket_ids: list[str], actor: str
) -> Ticket:
    """Fold ``ticket_ids`` into ``target_id``: counts add up, their fingerprints route to it."""
    if target_id in ticket_ids:
        raise TicketMergeError("A ticket cannot be merged into itself.")
    involved = sorted({target_id, *ticket_ids})
    routes = list(
        (
            await session.scalars(
                select(TicketFingerprint)
                .where(TicketFingerprint.ticket_id.in_(involved))
                .order_by(TicketFingerprint.id)
                .with_for_update()
            )
        ).all()
    )
    tickets = {
        ticket.id: ticket
        for ticket in (
            await session.scalars(
                select(Ticket).where(Ticket.id.in_(involved)).order_by(Ticket.id).with_for_update()
            )
        ).all()
    }
    target = tickets.get(target_id)
    if target is None:
        raise TicketNotFoundError("No ticket with that id.")
    sources = [tickets[ticket_id] for ticket_id in ticket_ids if ticket_id in tickets]
    _check_mergeable(target, sources, ticket_ids)

    now = utc_now()
    added = sum(source.occurrences for source in sources)
    for route in routes:
        if route.ticket_id != target.id:
            route.ticket_id = target.id
    target.occurrences += added
    # What the sources counted was announced under their ids; ticket.merged tells the sum.
    target.occurrences_announced += added
    target.first_seen_at = min(target.first_seen_at, *(s.first_seen_at for s in sources))
    target.last_seen_at = max(target.last_seen_at, *(s.last_seen_at for s in sources))
    target.updated_at = now
    await session.execute(
        delete(OccurrenceBacklog).where(OccurrenceBacklog.ticket_id.in_(ticket_ids))
    )
    for source in sources:
        await _close_as_merged(session, source, target=target, actor=actor, now=now)
    await history.record(
        session,
        ticket_id=target.id,
        action="merged",
        actor=actor,
        details={"ticket_ids": ticket_ids, "occurrences_added": added},
        now=now,
    )
    await announce(
        session,
        TicketMerged(
            ticket_id=target.id,
            client_id=target.client_id,
            merged_ticket_ids=ticket_ids,
            occurrences=target.occurrences,
            merged_at=now,
        ),
        subject=target.id,
        client_id=target.client_id,
    )
    await session.commit()
    return target


def _check_mergeable(target: Ticket, sources: list[Ticket], ticket_ids: list[str]) -> None:
    found = {source.id for source in sources}
    missing = [ticket_id for ticket_id in ticket_ids if ticket_id not in found]
    if missing:
        raise TicketMergeError("Some tickets do not exist.", unknown_ticket_ids=missing)
    if target.close_reason == "merged":
        raise TicketMergeError(
            "The target was itself merged into another ticket; merge into that one.",
            merged_into_ticket_id=target.merged_into_ticket_id,
        )
    foreign = [source.id for source in sources if source.client_id != target.client_id]
    if foreign:
        raise TicketMergeError(
            "Only tickets of the same client can be merged.", other_client_ticket_ids=foreign
        )
    merged = [source.id for source in sources if source.close_reason == "merged"]
    if merged:
        raise TicketMergeError("Some tickets were merged already.", merged_ticket_ids=merged)


async def _close_as_merged(
    session: AsyncSession, source: Ticket, *, target: Ticket, actor: str, now: datetime
) -> None:
    was_closed = source.status == domain.CLOSED_STATUS
    previous_status = source.status
    source.status = domain.CLOSED_STATUS
    source.close_reason = "merged"
    source.merged_into_ticket_id = target.id
    source.updated_at = now
    await history.record(
        session,
        ticket_id=source.id,
        action="merged_into",
        actor=actor,
        details={"ticket_id": target.id, "from": previous_status},
        now=now,
    )
    if not was_closed:  # its clocks stop; one already closed has nothing left to stop
        await announce(
            session,
            TicketClosed(
                ticket_id=source.id,
                client_id=source.client_id,
                closed_at=now,
                reason="merged",
                merged_into_ticket_id=target.id,
            ),
            subject=source.id,
            client_id=source.client_id,
        )


async def unmerge_fingerprint(
    session: AsyncSession, *, ticket_id: str, fingerprint: str, actor: str
) -> Ticket:
    """Split one fingerprint off ``ticket_id`` into a new ticket, with its counts and samples."""
    client_id = await session.scalar(select(Ticket.client_id).where(Ticket.id == ticket_id))
    if client_id is None:
        raise TicketNotFoundError("No ticket with that id.")
    route = await session.scalar(
        select(TicketFingerprint)
        .where(
            TicketFingerprint.client_id == client_id, TicketFingerprint.fingerprint == fingerprint
        )
        .with_for_update()
    )
    ticket = await session.get(Ticket, ticket_id, with_for_update=True)
    assert ticket is not None
    if route is None or route.ticket_id != ticket.id:
        raise FingerprintNotOnTicketError("That fingerprint does not lead to this ticket.")
    if fingerprint == ticket.fingerprint:
        raise FingerprintNotOnTicketError(
            "A ticket keeps its own fingerprint; split off one that was merged into it."
        )
    origin = await session.get(Ticket, route.origin_ticket_id) or ticket
    now = utc_now()
    split = Ticket(
        id=str(uuid.uuid4()),
        client_id=client_id,
        title=origin.title,
        description=origin.description,
        severity=origin.severity,
        priority=origin.priority,
        kind=origin.kind,
        status=domain.NEW_STATUS,
        fingerprint=fingerprint,
        environment=origin.environment,
        release=origin.release,
        stacktrace=origin.stacktrace,
        context=origin.context,
        platform=origin.platform,
        occurrences=route.occurrences,
        occurrences_announced=route.occurrences,
        occurrence_announced_at=now,
        first_seen_at=route.first_seen_at,
        last_seen_at=route.last_seen_at,
        created_at=now,
        updated_at=now,
    )
    session.add(split)
    route.ticket_id = split.id
    await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(
            occurrences=Ticket.occurrences - route.occurrences,
            occurrences_announced=Ticket.occurrences_announced - route.occurrences,
            updated_at=now,
        )
    )
    await history.record(
        session,
        ticket_id=ticket.id,
        action="unmerged",
        actor=actor,
        details={
            "fingerprint": fingerprint,
            "ticket_id": split.id,
            "occurrences": route.occurrences,
        },
        now=now,
    )
    await history.record(
        session,
        ticket_id=split.id,
        action="split_from",
        actor=actor,
        details={"ticket_id": ticket.id, "fingerprint": fingerprint},
        now=now,
    )
    await announce(
        session,
        TicketCreated(
            ticket_id=split.id,
            client_id=client_id,
            title=split.title,
            severity=split.severity,
            priority=split.priority,
            status=split.status,
            kind=split.kind,
            environment=split.environment,
            release=split.release,
            fingerprint=fingerprint,
            created_at=now,
            split_from_ticket_id=ticket.id,
        ),
        subject=split.id,
        client_id=client_id,
    )
    await session.commit()
    return split
