"""Satisfaction feedback: a client rates a resolved ticket; staff read it per ticket and client."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from aftercare_intake import feedback
from aftercare_intake.api.schemas import StrictBody
from aftercare_intake.models import TicketFeedback
from aftercare_shared.auth.dependencies import CurrentPrincipal
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
    tags=["feedback"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "Feedback is given with the ticket's client API key, not a staff credential.",
            404: "No such ticket or client (or not one this client key may see).",
            409: "The ticket is not resolved (ticket-not-resolved), or this resolution was "
            "already rated (feedback-already-given).",
            422: "The body or a query parameter is not valid (a bad cursor too).",
            429: "Too many requests for this client API key; see Retry-After.",
        }
    ),
)


class FeedbackIn(StrictBody):
    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent).")
    comment: str | None = Field(default=None, max_length=5000)


class FeedbackOut(BaseModel):
    id: str
    ticket_id: str
    client_id: str
    rating: int
    comment: str | None
    resolved_at: datetime = Field(description="The resolution this feedback rates.")
    created_at: datetime


def feedback_out(entry: TicketFeedback) -> FeedbackOut:
    return FeedbackOut.model_validate(entry, from_attributes=True)


def _position(entry: TicketFeedback) -> tuple[datetime, str]:
    return (entry.created_at, entry.id)


@router.post("/tickets/{ticket_id}/feedback", status_code=201)
async def give_feedback(
    ticket_id: str, body: FeedbackIn, principal: CurrentPrincipal, session: SessionDep
) -> FeedbackOut:
    """Rate the ticket's resolution, once per resolution cycle; emits ticket.feedback_received."""
    entry = await feedback.give_feedback(
        session,
        principal=principal,
        ticket_id=ticket_id,
        rating=body.rating,
        comment=body.comment,
    )
    return feedback_out(entry)


@router.get("/tickets/{ticket_id}/feedback")
async def ticket_feedback(
    ticket_id: str, principal: CurrentPrincipal, session: SessionDep
) -> list[FeedbackOut]:
    """Every rating of the ticket, one per resolution cycle, oldest first."""
    entries = await feedback.ticket_feedback(session, principal=principal, ticket_id=ticket_id)
    return [feedback_out(entry) for entry in entries]


@router.get("/clients/{client_id}/feedback")
async def client_feedback(
    client_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    received_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Received at or after.")
    ] = None,
    received_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Received before.")
    ] = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[FeedbackOut]:
    """The client's ratings received in [from, to), newest first."""
    entries = await feedback.client_feedback(
        session,
        principal=principal,
        client_id=client_id,
        received_from=received_from,
        received_to=received_to,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    return page_of(entries, limit=limit, key=_position, item=feedback_out)
