"""Tickets: staff see all, a client key only its own client's."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from aftercare_intake import use_cases
from aftercare_intake.models import Comment, Ticket
from aftercare_intake.repository import list_tickets
from aftercare_intake.schemas import (
    CommentCreate,
    CommentOut,
    Priority,
    Status,
    TicketOut,
    TicketPage,
    TicketUpdate,
)
from aftercare_shared.auth import Principal
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.problems import PROBLEM_BASE_URI, Problem
from aftercare_shared.sessions import SessionDep

router = APIRouter(prefix="/v1", tags=["tickets"])


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
        sla=ticket.sla_status,
    )


async def visible_ticket(session: SessionDep, principal: Principal, ticket_id: str) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    # Another client's ticket is "not found", not "forbidden": existence must not leak.
    if ticket is None or not principal.may_see_client(ticket.client_id):
        raise use_cases.not_found("ticket")
    return ticket


def _encode_cursor(ticket: Ticket) -> str:
    raw = f"{ticket.created_at.isoformat()}|{ticket.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, _, ticket_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        return datetime.fromisoformat(created_at), ticket_id
    except ValueError as error:
        raise Problem(
            400,
            "The cursor is not one this API returned.",
            problem_type=PROBLEM_BASE_URI + "bad-cursor",
        ) from error


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: str, principal: CurrentPrincipal, session: SessionDep) -> TicketOut:
    return ticket_out(await visible_ticket(session, principal, ticket_id))


@router.get("/tickets")
async def find_tickets(
    principal: CurrentPrincipal,
    session: SessionDep,
    client_id: str | None = None,
    status: Status | None = None,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TicketPage:
    if not principal.is_staff:
        if client_id is not None and client_id != principal.client_id:
            return TicketPage(items=[], next_cursor=None)
        client_id = principal.client_id
    tickets = await list_tickets(
        session,
        client_id=client_id,
        status=status,
        priority=priority,
        after=_decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    page = tickets[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(tickets) > limit else None
    return TicketPage(items=[ticket_out(ticket) for ticket in page], next_cursor=next_cursor)


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: str, body: TicketUpdate, _: StaffPrincipal, session: SessionDep
) -> TicketOut:
    ticket = await use_cases.update_ticket(
        session, ticket_id=ticket_id, status=body.status, priority=body.priority
    )
    return ticket_out(ticket)


@router.post("/tickets/{ticket_id}/comments", status_code=201)
async def add_comment(
    ticket_id: str, body: CommentCreate, principal: CurrentPrincipal, session: SessionDep
) -> CommentOut:
    ticket = await visible_ticket(session, principal, ticket_id)
    comment = await use_cases.add_comment(
        session,
        ticket=ticket,
        author_kind="staff" if principal.is_staff else "client",
        author=principal.subject,
        body=body.body,
    )
    return CommentOut.model_validate(comment, from_attributes=True)


@router.get("/tickets/{ticket_id}/comments")
async def list_comments(
    ticket_id: str, principal: CurrentPrincipal, session: SessionDep
) -> list[CommentOut]:
    await visible_ticket(session, principal, ticket_id)
    comments = await session.scalars(
        select(Comment).where(Comment.ticket_id == ticket_id).order_by(Comment.created_at)
    )
    return [CommentOut.model_validate(comment, from_attributes=True) for comment in comments]
