"""Tickets: staff see all, a client key only its own client's."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from aftercare_intake import domain, use_cases
from aftercare_intake.api.schemas import CommentCreate, CommentOut, TicketOut, TicketUpdate
from aftercare_intake.models import Comment, Ticket
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.events.catalog import Priority, TicketStatus
from aftercare_shared.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    PageCursor,
    PageLimit,
    decode_cursor,
    page_of,
)
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1",
    tags=["tickets"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "The call needs a staff token.",
            404: "No such ticket (or not one this client key may see).",
            409: "The ticket cannot move to that status from its current one.",
            422: "The request is not valid (a bad cursor too); nothing was changed.",
            429: "Too many requests for this client API key; see Retry-After.",
        }
    ),
)


def ticket_out(ticket: Ticket) -> TicketOut:
    return TicketOut(
        id=ticket.id,
        client_id=ticket.client_id,
        title=ticket.title,
        description=ticket.description,
        severity=ticket.severity,
        priority=ticket.priority,
        kind=ticket.kind,
        status=ticket.status,
        fingerprint=ticket.fingerprint,
        environment=ticket.environment,
        release=ticket.release,
        occurrences=ticket.occurrences,
        first_seen_at=ticket.first_seen_at,
        last_seen_at=ticket.last_seen_at,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
        resolved_by_release_id=ticket.resolved_by_release_id,
        fix_status=domain.fix_status(ticket.status, ticket.fix_release_id),
        fix_release_id=ticket.fix_release_id,
        fix_released_at=ticket.fix_released_at,
        sla=ticket.sla_status,
    )


def _comment_out(comment: Comment) -> CommentOut:
    return CommentOut.model_validate(comment, from_attributes=True)


def _position(row: Ticket | Comment) -> tuple[datetime, str]:
    return (row.created_at, row.id)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: str, principal: CurrentPrincipal, session: SessionDep) -> TicketOut:
    ticket = await use_cases.visible_ticket(session, principal=principal, ticket_id=ticket_id)
    return ticket_out(ticket)


@router.get("/tickets")
async def find_tickets(
    principal: CurrentPrincipal,
    session: SessionDep,
    client_id: str | None = None,
    status: TicketStatus | None = None,
    priority: Priority | None = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[TicketOut]:
    """Newest first."""
    tickets = await use_cases.list_visible_tickets(
        session,
        principal=principal,
        client_id=client_id,
        status=status,
        priority=priority,
        after=decode_cursor(cursor, datetime, str) if cursor else None,
        limit=limit + 1,
    )
    return page_of(tickets, limit=limit, key=_position, item=ticket_out)


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: str, body: TicketUpdate, _: StaffPrincipal, session: SessionDep
) -> TicketOut:
    ticket = await use_cases.update_ticket(
        session, ticket_id=ticket_id, changes=use_cases.TicketChanges(**body.changes())
    )
    return ticket_out(ticket)


@router.post("/tickets/{ticket_id}/comments", status_code=201)
async def add_comment(
    ticket_id: str, body: CommentCreate, principal: CurrentPrincipal, session: SessionDep
) -> CommentOut:
    comment = await use_cases.add_comment(
        session, principal=principal, ticket_id=ticket_id, body=body.body
    )
    return _comment_out(comment)


@router.get("/tickets/{ticket_id}/comments")
async def list_comments(
    ticket_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[CommentOut]:
    """Oldest first: the conversation in the order it happened."""
    comments = await use_cases.list_comments(
        session,
        principal=principal,
        ticket_id=ticket_id,
        after=decode_cursor(cursor, datetime, str) if cursor else None,
        limit=limit + 1,
    )
    return page_of(comments, limit=limit, key=_position, item=_comment_out)
