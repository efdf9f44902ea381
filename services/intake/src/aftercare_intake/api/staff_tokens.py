"""Staff tokens: minted, listed and revoked by an admin; every service verifies them itself."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response

from aftercare_intake import use_cases
from aftercare_intake.api.dependencies import StaffTokensDep
from aftercare_intake.api.schemas import StaffTokenCreate, StaffTokenCreated, StaffTokenOut
from aftercare_intake.models import StaffToken
from aftercare_shared.auth.dependencies import StaffPrincipal
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
    tags=["staff tokens"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "Only the admin token or an admin-role staff token manages staff tokens.",
            422: "The request is not valid (a bad cursor too).",
        }
    ),
)


def _token_out(record: StaffToken) -> StaffTokenOut:
    return StaffTokenOut.model_validate(record, from_attributes=True)


def _position(record: StaffToken) -> tuple[datetime, str]:
    return (record.created_at, record.id)


@router.post("/staff-tokens", status_code=201)
async def create_staff_token(
    body: StaffTokenCreate,
    principal: StaffPrincipal,
    session: SessionDep,
    staff_tokens: StaffTokensDep,
) -> StaffTokenCreated:
    """A signed token with a role; the role, never the subject, decides what it may do."""
    issued = await use_cases.issue_staff_token(
        session,
        staff_tokens,
        requested_by=principal,
        subject=body.subject,
        role=body.role,
        ttl_seconds=body.ttl_seconds,
    )
    return StaffTokenCreated(**_token_out(issued.record).model_dump(), token=issued.token)


@router.get("/staff-tokens")
async def list_staff_tokens(
    principal: StaffPrincipal,
    session: SessionDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[StaffTokenOut]:
    """Oldest first, revoked and expired tokens included; never a token itself."""
    records = await use_cases.list_staff_tokens(
        session,
        requested_by=principal,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    return page_of(records, limit=limit, key=_position, item=_token_out)


@router.delete(
    "/staff-tokens/{token_id}",
    status_code=204,
    responses=problem_responses({404: "No staff token with that id."}),
)
async def revoke_staff_token(
    token_id: str, principal: StaffPrincipal, session: SessionDep
) -> Response:
    """Refused by intake at once, and by every other service as soon as it has read the
    ``staff.token_revoked`` event (the path client-key revocations take)."""
    await use_cases.revoke_staff_token(session, requested_by=principal, token_id=token_id)
    return Response(status_code=204)
