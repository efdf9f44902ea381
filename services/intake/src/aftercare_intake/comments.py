"""A ticket's conversation: public replies, staff's internal notes, and the status moves
replies make (:mod:`.reply_rules`).

A client key never reads an internal note: not in the list, not through search
(``q`` searches public comments only), not in any event it can receive (notify routes
an internal ``ticket.commented`` to agency-wide endpoints only). No event or ticket view
carries a comment's body.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import history, repository
from aftercare_intake.announcements import announce
from aftercare_intake.errors import ReplyStatusNotAllowedError, StaffOnlyError, TicketNotFoundError
from aftercare_intake.models import Comment, Ticket
from aftercare_intake.reply_rules import Reply, StatusMove, status_after_reply
from aftercare_intake.use_cases import new_id
from aftercare_shared.auth import Principal
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    ActorKind,
    CommentAuthorKind,
    CommentVisibility,
    TicketCommented,
    TicketReopened,
    TicketStatus,
    TicketUpdated,
)
from aftercare_shared.pagination import CursorPosition

CLIENT_REPLY_REASON = "client_reply"


def _checked_reply(
    principal: Principal, visibility: CommentVisibility, status: TicketStatus | None
) -> Reply:
    author_kind: CommentAuthorKind = "staff" if principal.is_staff else "client"
    if author_kind == "client" and visibility == "internal":
        raise StaffOnlyError("Internal notes are for staff; a client key comments publicly.")
    if status is not None and author_kind == "client":
        raise StaffOnlyError("Only staff set a status with a reply.")
    if status is not None and visibility == "internal":
        raise ReplyStatusNotAllowedError(
            "An internal note cannot move the ticket: the client would not see why.",
            errors=[
                {
                    "location": "body.status",
                    "message": "only a public reply sets a status",
                    "kind": "internal_note_status",
                }
            ],
        )
    return Reply(author_kind=author_kind, visibility=visibility, requested_status=status)


async def add_comment(
    session: AsyncSession,
    *,
    principal: Principal,
    ticket_id: str,
    body: str,
    visibility: CommentVisibility,
    status: TicketStatus | None,
    reopen_window: timedelta,
) -> Comment:
    """Add a reply or a note, and move the ticket as the desk's rules say (one transaction).

    Emits ``ticket.commented`` (with ``author_kind`` and ``visibility``), then the move's
    own event: ``ticket.updated`` (``actor_kind`` staff or client) or ``ticket.reopened``
    (reason ``client_reply``).
    """
    reply = _checked_reply(principal, visibility, status)
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    # Another client's ticket is "not found", not "forbidden": existence must not leak.
    if ticket is None or not principal.may_see_client(ticket.client_id):
        raise TicketNotFoundError("No ticket with that id.")
    now = utc_now()
    move = status_after_reply(
        ticket.status, ticket.resolved_at, reply, now=now, reopen_window=reopen_window
    )
    comment = Comment(
        id=new_id(),
        ticket_id=ticket.id,
        author_kind=reply.author_kind,
        author=principal.subject,
        body=body,
        visibility=visibility,
        created_at=now,
    )
    session.add(comment)
    ticket.updated_at = now
    await announce(
        session,
        TicketCommented(
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            comment_id=comment.id,
            author_kind=reply.author_kind,
            visibility=visibility,
            created_at=now,
        ),
        subject=ticket.id,
        client_id=ticket.client_id,
    )
    if move is not None:
        await _move(
            session, ticket, move, actor=principal.subject, actor_kind=reply.author_kind, now=now
        )
    await session.commit()
    return comment


async def _move(
    session: AsyncSession,
    ticket: Ticket,
    move: StatusMove,
    *,
    actor: str,
    actor_kind: ActorKind,
    now: datetime,
) -> None:
    previous = ticket.status
    ticket.status = move.to
    if move.reopens:
        ticket.resolved_at = None
    await history.record(
        session,
        ticket_id=ticket.id,
        action="reopened" if move.reopens else "status_changed",
        actor=actor,
        details={
            "from": previous,
            "to": move.to,
            "reason": CLIENT_REPLY_REASON if move.reopens else None,
        },
        now=now,
    )
    await announce(
        session,
        TicketReopened(
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            reopened_at=now,
            status=move.to,
            reason=CLIENT_REPLY_REASON,
        )
        if move.reopens
        else TicketUpdated(
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            status=move.to,
            priority=ticket.priority,
            changed=["status"],
            updated_at=now,
            actor_kind=actor_kind,
            kind=ticket.kind,
        ),
        subject=ticket.id,
        client_id=ticket.client_id,
    )


async def list_comments(
    session: AsyncSession,
    *,
    principal: Principal,
    ticket_id: str,
    after: CursorPosition | None,
    limit: int,
) -> list[Comment]:
    """Oldest first; a client key gets the public ones only."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or not principal.may_see_client(ticket.client_id):
        raise TicketNotFoundError("No ticket with that id.")
    return await repository.list_comments(
        session,
        ticket_id=ticket_id,
        public_only=not principal.is_staff,
        after=after,
        limit=limit,
    )
