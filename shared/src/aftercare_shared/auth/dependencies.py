"""FastAPI dependencies: ``CurrentPrincipal`` and ``StaffPrincipal`` for routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aftercare_shared.auth.authenticator import Authenticator, Principal, forbidden


async def current_principal(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(request.headers.get("authorization"))
    request.state.principal = principal
    return principal


async def staff_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.is_staff:
        raise forbidden()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
StaffPrincipal = Annotated[Principal, Depends(staff_principal)]
