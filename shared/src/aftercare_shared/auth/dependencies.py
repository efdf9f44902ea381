"""FastAPI dependencies: ``CurrentPrincipal``, ``SubmittingPrincipal`` and ``StaffPrincipal``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aftercare_shared.auth.authenticator import READ_METHODS, Authenticator, Principal, forbidden
from aftercare_shared.rate_limit import RateLimiter
from aftercare_shared.sessions import SessionDep


async def submitting_principal(request: Request, session: SessionDep) -> Principal:
    """Any valid credential, ``ingest`` keys included: for the calls that submit data."""
    # FastAPI caches SessionDep per request: the handler gets this same session.
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(request.headers.get("authorization"), session)
    if principal.reads_only and request.method not in READ_METHODS:
        # Decided here, by method, so every route (today's and tomorrow's) obeys it unchanged.
        raise forbidden("A viewer token reads only (GET and HEAD).")
    if principal.api_key_id is not None:
        # Client systems are machines: a runaway loop must not starve other tenants.
        client_rate_limiter: RateLimiter = request.app.state.client_rate_limiter
        # One statement on this request's session, committed at once (the key lookup
        # before it only read): every replica takes from the same bucket.
        await client_rate_limiter.check(session, principal.api_key_id)
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal, Depends(submitting_principal)],
) -> Principal:
    """A credential that may read: staff, or a client key of scope ``client``."""
    if principal.submits_only:
        raise forbidden("This key may only submit reports and events; it reads nothing.")
    return principal


async def staff_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.is_staff:
        raise forbidden()
    return principal


SubmittingPrincipal = Annotated[Principal, Depends(submitting_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
StaffPrincipal = Annotated[Principal, Depends(staff_principal)]
