"""The admin mints time-limited staff tokens that every service verifies by itself."""

from __future__ import annotations

from fastapi import APIRouter

from aftercare_intake import use_cases
from aftercare_intake.api.dependencies import StaffTokensDep
from aftercare_intake.api.schemas import StaffTokenCreate, StaffTokenOut
from aftercare_shared.auth.dependencies import StaffPrincipal
from aftercare_shared.problems import problem_responses

router = APIRouter(
    prefix="/v1",
    tags=["staff tokens"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "Only the admin credential can mint staff tokens.",
            422: "The request is not valid.",
        }
    ),
)


@router.post("/staff-tokens", status_code=201)
async def create_staff_token(
    body: StaffTokenCreate, principal: StaffPrincipal, staff_tokens: StaffTokensDep
) -> StaffTokenOut:
    issued = use_cases.issue_staff_token(
        staff_tokens, requested_by=principal, subject=body.subject, ttl_seconds=body.ttl_seconds
    )
    return StaffTokenOut(token=issued.token, subject=issued.subject, expires_at=issued.expires_at)
