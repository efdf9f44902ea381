"""What intake's routers take from the app, typed: settings, token minting, report limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aftercare_intake.errors import ClientKeyRequiredError
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.auth import StaffTokens
from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.rate_limit import RateLimiter
from aftercare_shared.service import provided


class ReportRateLimiter(RateLimiter):
    """Reports' own, tighter bucket per client key, on top of the every-call limit."""


SettingsDep = Annotated[IntakeSettings, Depends(provided(IntakeSettings))]
StaffTokensDep = Annotated[StaffTokens, Depends(provided(StaffTokens))]
ReportRateLimiterDep = Annotated[ReportRateLimiter, Depends(provided(ReportRateLimiter))]


async def reporting_client(principal: CurrentPrincipal, limiter: ReportRateLimiterDep) -> str:
    """The id of the client a report comes from; only a client key may send one."""
    if principal.client_id is None:
        raise ClientKeyRequiredError("Reports are sent with a client API key.")
    limiter.check(principal.api_key_id or principal.client_id)
    return principal.client_id


ReportingClientId = Annotated[str, Depends(reporting_client)]
