"""Tickets: staff see all, a client key only its own client's.

Besides the ticket itself: its kept occurrences, its history, and staff's merge/unmerge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Response
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import (
    comments,
    direct_tickets,
    domain,
    idempotency,
    merging,
    repository,
    use_cases,
)
from aftercare_intake.api.dependencies import SettingsDep
from aftercare_intake.api.schemas import (
    MAX_SUBJECT_LENGTH,
    CommentCreate,
    CommentOut,
    FixedIn,
    HistoryOut,
    OccurrenceOut,
    Regression,
    SeenCount,
    TicketCreate,
    TicketMerge,
    TicketOut,
    TicketUnmerge,
    TicketUpdate,
)
from aftercare_intake.models import Comment, Ticket, TicketHistory
from aftercare_intake.repository import OccurrenceView, Tally, TicketBreakdown
from aftercare_intake.ticket_search import (
    MYSELF,
    UNASSIGNED,
    TicketFilters,
    TicketSort,
    cursor_types,
    position_of,
)
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.events.catalog import Priority, TicketKind, TicketStatus
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
            403: "The call needs a staff token (internal notes, assignment, a status set "
            "with a reply), or a client key named another client.",
            404: "No such ticket (or not one this client key may see), or no such client.",
            409: "The ticket cannot move to that status from its current one; the tickets "
            "cannot be merged; the fingerprint cannot be split off.",
            422: "The request is not valid (a bad cursor too); nothing was changed.",
            429: "Too many requests for this client API key; see Retry-After.",
        }
    ),
)


def _seen(tallies: list[Tally]) -> list[SeenCount]:
    return [
        SeenCount(
            name=tally.value,
            occurrences=tally.occurrences,
            first_seen_at=tally.first_seen_at,
            last_seen_at=tally.last_seen_at,
        )
        for tally in tallies
    ]


def ticket_out(ticket: Ticket, breakdown: TicketBreakdown | None = None) -> TicketOut:
    breakdown = breakdown or TicketBreakdown([], [], [])
    fixed_in = (
        FixedIn(
            release_id=ticket.fixed_in_release_id,
            product=ticket.fixed_in_product,
            version=ticket.fixed_in_version,
        )
        if ticket.fixed_in_release_id and ticket.fixed_in_product and ticket.fixed_in_version
        else None
    )
    return TicketOut(
        id=ticket.id,
        client_id=ticket.client_id,
        title=ticket.title,
        description=ticket.description,
        severity=ticket.severity,
        priority=ticket.priority,
        kind=ticket.kind,
        status=ticket.status,
        assignee=ticket.assignee,
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
        platform=ticket.platform,
        close_reason=ticket.close_reason,
        merged_into_ticket_id=ticket.merged_into_ticket_id,
        fixed_in=fixed_in,
        regression=Regression(reopened_at=ticket.regressed_at, release=ticket.regression_release)
        if ticket.regressed_at is not None
        else None,
        releases=_seen(breakdown.releases),
        environments=_seen(breakdown.environments),
        fingerprints=_seen(breakdown.fingerprints),
    )


async def _one_ticket_out(session: AsyncSession, ticket: Ticket) -> TicketOut:
    breakdowns = await repository.ticket_breakdowns(session, [ticket.id])
    return ticket_out(ticket, breakdowns.get(ticket.id))


def _occurrence_out(view: OccurrenceView) -> OccurrenceOut:
    sample = view.sample
    return OccurrenceOut(
        id=sample.id,
        number=sample.number,
        fingerprint=view.fingerprint,
        event_id=sample.event_id,
        project_id=sample.project_id,
        received_at=sample.created_at,
        occurred_at=sample.occurred_at,
        title=sample.title,
        severity=sample.severity,
        platform=sample.platform,
        environment=sample.environment,
        release=sample.release,
        server_name=sample.server_name,
        details=sample.details,
    )


def _occurrence_position(view: OccurrenceView) -> tuple[datetime, str]:
    return (view.sample.created_at, view.sample.id)


def _history_out(entry: TicketHistory) -> HistoryOut:
    return HistoryOut.model_validate(entry, from_attributes=True)


def _comment_out(comment: Comment) -> CommentOut:
    return CommentOut.model_validate(comment, from_attributes=True)


def _position(row: Ticket | Comment | TicketHistory) -> tuple[datetime, str]:
    return (row.created_at, row.id)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: str, principal: CurrentPrincipal, session: SessionDep) -> TicketOut:
    ticket = await use_cases.visible_ticket(session, principal=principal, ticket_id=ticket_id)
    return await _one_ticket_out(session, ticket)


def _assignee_subject(asked: str | None, *, me: str) -> str | None:
    """The staff subject ``assignee=`` names: ``me`` is the caller; ``none`` names nobody."""
    if asked == MYSELF:
        return me
    return None if asked == UNASSIGNED else asked


@router.get("/tickets")
async def find_tickets(
    principal: CurrentPrincipal,
    session: SessionDep,
    client_id: str | None = None,
    status: Annotated[list[TicketStatus] | None, Query(description="One or several.")] = None,
    priority: Annotated[list[Priority] | None, Query(description="One or several.")] = None,
    kind: Annotated[list[TicketKind] | None, Query(description="One or several.")] = None,
    assignee: Annotated[
        str | None,
        Query(
            max_length=MAX_SUBJECT_LENGTH,
            description="`me` (the caller's subject), `none` (nobody's), or a staff subject.",
        ),
    ] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    created_after: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    updated_after: AwareDatetime | None = None,
    updated_before: AwareDatetime | None = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            description="Full-text search over title, description and public comments "
            '(web search syntax: words, "a phrase", -excluded, or).',
        ),
    ] = None,
    sort: Annotated[
        TicketSort,
        Query(
            description="`created` (newest first), `updated` (latest change first), "
            "`priority` (P1 first, oldest first within one), `sla_due` (soonest due SLA "
            "clock first; tickets without one last)."
        ),
    ] = "created",
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[TicketOut]:
    """The desk's ticket list: filters combine (AND); several values of one filter (OR)."""
    filters = TicketFilters(
        client_id=client_id,
        statuses=status or (),
        priorities=priority or (),
        kinds=kind or (),
        assignee=_assignee_subject(assignee, me=principal.subject),
        unassigned=assignee == UNASSIGNED,
        environment=environment,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
        q=q,
    )
    tickets = await use_cases.list_visible_tickets(
        session,
        principal=principal,
        filters=filters,
        sort=sort,
        after=decode_cursor(cursor, *cursor_types(sort)),
        limit=limit + 1,
    )
    breakdowns = await repository.ticket_breakdowns(session, [t.id for t in tickets[:limit]])
    return page_of(
        tickets,
        limit=limit,
        key=lambda ticket: position_of(ticket, sort),
        item=lambda ticket: ticket_out(ticket, breakdowns.get(ticket.id)),
    )


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketOut,
    responses=problem_responses(
        {422: "The ticket is not valid, or its Idempotency-Key was used with another request."}
    ),
)
async def open_ticket(
    body: TicketCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200, min_length=1)] = None,
) -> Response:
    """Open a ticket by hand: staff for any client (`client_id`), a client key for its own.

    The same ``ticket.created`` (and so the same SLA clocks) as a report; with an
    `assignee` (staff only), ``ticket.assigned`` too. With an `Idempotency-Key`, a retry
    answers with the ticket the first request opened (header `Idempotent-Replayed: true`)
    and opens no second one.
    """

    async def render(ticket: Ticket) -> dict[str, Any]:
        return (await _one_ticket_out(session, ticket)).model_dump(mode="json")

    opened = await direct_tickets.open_ticket(
        session,
        principal=principal,
        new=direct_tickets.NewTicket(
            client_id=body.client_id,
            title=body.title,
            description=body.description,
            kind=body.kind,
            severity=body.severity,
            environment=body.environment,
            assignee=body.assignee,
        ),
        policy=settings.occurrence_policy,
        render=render,
        idempotent=None
        if idempotency_key is None
        else direct_tickets.IdempotentRequest(
            idempotency_key, body.model_dump(mode="json"), settings.idempotency_ttl
        ),
    )
    headers = {"Location": f"/v1/tickets/{opened.ticket_id}"}
    if opened.replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
    return Response(
        orjson.dumps(opened.body),
        status_code=201,
        media_type="application/json",
        headers=headers,
    )


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: str, body: TicketUpdate, principal: StaffPrincipal, session: SessionDep
) -> TicketOut:
    ticket = await use_cases.update_ticket(
        session,
        ticket_id=ticket_id,
        changes=use_cases.TicketChanges(**body.changes()),
        actor=principal.subject,
    )
    return await _one_ticket_out(session, ticket)


@router.post("/tickets/{ticket_id}/merge")
async def merge_tickets(
    ticket_id: str, body: TicketMerge, principal: StaffPrincipal, session: SessionDep
) -> TicketOut:
    """Fold other tickets of the same client into this one.

    Their counts add up; they close with ``close_reason: merged`` pointing here; their
    fingerprints route future occurrences here. Emits ``ticket.merged`` and, for each,
    ``ticket.closed``.
    """
    ticket = await merging.merge_tickets(
        session, target_id=ticket_id, ticket_ids=body.ticket_ids, actor=principal.subject
    )
    return await _one_ticket_out(session, ticket)


@router.post("/tickets/{ticket_id}/unmerge", status_code=201)
async def unmerge_ticket(
    ticket_id: str, body: TicketUnmerge, principal: StaffPrincipal, session: SessionDep
) -> TicketOut:
    """Split one fingerprint back out to a new ticket (answered), with its counts and samples."""
    split = await merging.unmerge_fingerprint(
        session, ticket_id=ticket_id, fingerprint=body.fingerprint, actor=principal.subject
    )
    return await _one_ticket_out(session, split)


@router.get("/tickets/{ticket_id}/occurrences")
async def list_occurrences(
    ticket_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[OccurrenceOut]:
    """Newest first: the first and the latest occurrences of each fingerprint, in full."""
    views = await use_cases.list_occurrences(
        session,
        principal=principal,
        ticket_id=ticket_id,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    return page_of(views, limit=limit, key=_occurrence_position, item=_occurrence_out)


@router.get("/tickets/{ticket_id}/history")
async def list_history(
    ticket_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[HistoryOut]:
    """Oldest first: who merged, moved, re-prioritised or reopened the ticket, and why."""
    entries = await use_cases.list_history(
        session,
        principal=principal,
        ticket_id=ticket_id,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    return page_of(entries, limit=limit, key=_position, item=_history_out)


@router.post("/tickets/{ticket_id}/comments", status_code=201)
async def add_comment(
    ticket_id: str,
    body: CommentCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> CommentOut:
    """A public reply (staff or the ticket's client) or an internal note (staff only).

    Replies move the ticket: a staff reply with `status: waiting_on_client` hands it to
    the client; the client's reply on a `waiting_on_client` ticket hands it back
    (`in_progress`); the client's reply on a `resolved` ticket within
    `INTAKE_REOPEN_WINDOW_DAYS` reopens it.
    """
    comment = await comments.add_comment(
        session,
        principal=principal,
        ticket_id=ticket_id,
        body=body.body,
        visibility=body.visibility,
        status=body.status,
        reopen_window=settings.reopen_window,
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
    """Oldest first: the conversation in the order it happened (a client key: public only)."""
    found = await comments.list_comments(
        session,
        principal=principal,
        ticket_id=ticket_id,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    return page_of(found, limit=limit, key=_position, item=_comment_out)
