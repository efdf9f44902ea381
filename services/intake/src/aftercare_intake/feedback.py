"""Satisfaction: a client rates each resolution of its ticket once (1-5, optional comment).

The ticket's resolution cycle is named by its ``resolved_at``: a reopened ticket loses it,
and the next resolution sets a new one, so it can be rated again. Staff read the ratings
on the ticket and per client over a time window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.announcements import announce
from aftercare_intake.errors import (
    ClientKeyRequiredError,
    ClientNotFoundError,
    FeedbackAlreadyGivenError,
    TicketNotResolvedError,
)
from aftercare_intake.models import Client, TicketFeedback
from aftercare_intake.use_cases import new_id, visible_ticket
from aftercare_shared.auth.authenticator import Principal
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import TicketFeedbackReceived
from aftercare_shared.pagination import CursorPosition, after_position

RATEABLE_STATUSES = frozenset({"resolved", "closed"})


async def give_feedback(
    session: AsyncSession,
    *,
    principal: Principal,
    ticket_id: str,
    rating: int,
    comment: str | None,
) -> TicketFeedback:
    """Rate the ticket's current resolution; emits ``ticket.feedback_received``."""
    if principal.client_id is None:
        raise ClientKeyRequiredError("Feedback is given with the ticket's client API key.")
    ticket = await visible_ticket(session, principal=principal, ticket_id=ticket_id)
    if ticket.status not in RATEABLE_STATUSES or ticket.resolved_at is None:
        raise TicketNotResolvedError(
            "Only a resolved ticket can be rated.", ticket_status=ticket.status
        )
    now = utc_now()
    # ON CONFLICT DO NOTHING: two concurrent ratings of one cycle store one, answer 409 once.
    stored = await session.scalar(
        insert(TicketFeedback)
        .values(
            id=new_id(),
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            rating=rating,
            comment=comment,
            resolved_at=ticket.resolved_at,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_ticket_feedback_cycle")
        .returning(TicketFeedback.id)
    )
    if stored is None:
        raise FeedbackAlreadyGivenError("This resolution of the ticket was already rated.")
    feedback = await session.get(TicketFeedback, stored)
    assert feedback is not None
    await announce(
        session,
        TicketFeedbackReceived(
            feedback_id=feedback.id,
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            rating=rating,
            comment=comment,
            resolved_at=feedback.resolved_at,
            received_at=now,
        ),
        subject=ticket.id,
        client_id=ticket.client_id,
    )
    await session.commit()
    return feedback


async def ticket_feedback(
    session: AsyncSession, *, principal: Principal, ticket_id: str
) -> list[TicketFeedback]:
    """Every rating of the ticket, oldest first (one per resolution cycle)."""
    ticket = await visible_ticket(session, principal=principal, ticket_id=ticket_id)
    statement = (
        select(TicketFeedback)
        .where(TicketFeedback.ticket_id == ticket.id)
        .order_by(TicketFeedback.created_at, TicketFeedback.id)
    )
    return list((await session.scalars(statement)).all())


async def client_feedback(
    session: AsyncSession,
    *,
    principal: Principal,
    client_id: str,
    received_from: datetime | None,
    received_to: datetime | None,
    after: CursorPosition | None,
    limit: int,
) -> list[TicketFeedback]:
    """The client's ratings received in ``[from, to)``, newest first, as a keyset page."""
    # Another client's feedback is "not found": existence must not leak.
    if not principal.may_see_client(client_id) or await session.get(Client, client_id) is None:
        raise ClientNotFoundError("No client with that id.")
    statement = select(TicketFeedback).where(TicketFeedback.client_id == client_id)
    if received_from is not None:
        statement = statement.where(TicketFeedback.created_at >= received_from)
    if received_to is not None:
        statement = statement.where(TicketFeedback.created_at < received_to)
    key = (TicketFeedback.created_at.expression, TicketFeedback.id.expression)
    position = after_position(key, after, descending=True)
    if position is not None:
        statement = statement.where(position)
    statement = statement.order_by(*(column.desc() for column in key)).limit(limit)
    return list((await session.scalars(statement)).all())
