"""The admin mints time-limited staff tokens that every service verifies by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request

from aftercare_intake.schemas import StaffTokenCreate, StaffTokenOut
from aftercare_shared.auth.authenticator import forbidden
from aftercare_shared.auth.dependencies import StaffPrincipal

router = APIRouter(prefix="/v1", tags=["staff tokens"])


@router.post("/staff-tokens", status_code=201)
async def create_staff_token(
    body: StaffTokenCreate, principal: StaffPrincipal, request: Request
) -> StaffTokenOut:
    if principal.subject != "admin":
        raise forbidden("Only the admin credential can mint staff tokens.")
    staff_tokens = request.app.state.authenticator.staff_tokens
    issued_at = datetime.now(UTC)
    token = staff_tokens.issue(
        subject=body.subject, ttl_seconds=body.ttl_seconds, now=issued_at.timestamp()
    )
    return StaffTokenOut(
        token=token,
        subject=body.subject,
        expires_at=issued_at.replace(microsecond=0) + timedelta(seconds=body.ttl_seconds),
    )
