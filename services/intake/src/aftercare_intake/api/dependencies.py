"""What intake's routers take from the app, typed: settings, token minting, rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.errors import ClientKeyRequiredError
from aftercare_intake.ingest import IngestTarget
from aftercare_intake.sentry.rate_limits import RateLimitScope, rate_limit_headers
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.auth import StaffTokens
from aftercare_shared.auth.dependencies import SubmittingPrincipal
from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.problems import Problem
from aftercare_shared.rate_limit import RateLimiter
from aftercare_shared.service import provided
from aftercare_shared.sessions import SessionDep


class ReportRateLimiter(RateLimiter):
    """Reports' and events' own, tighter bucket per client key, on top of the every-call limit."""


class ProjectRateLimiter(RateLimiter):
    """Sentry events per project: one app's storm must not use up the client's other apps."""


SettingsDep = Annotated[IntakeSettings, Depends(provided(IntakeSettings))]
StaffTokensDep = Annotated[StaffTokens, Depends(provided(StaffTokens))]
ReportRateLimiterDep = Annotated[ReportRateLimiter, Depends(provided(ReportRateLimiter))]
ProjectRateLimiterDep = Annotated[ProjectRateLimiter, Depends(provided(ProjectRateLimiter))]


async def reporting_client(
    principal: SubmittingPrincipal, limiter: ReportRateLimiterDep, session: SessionDep
) -> str:
    """The id of the client a report comes from; a client key of either scope may send one."""
    if principal.client_id is None:
        raise ClientKeyRequiredError("Reports are sent with a client API key.")
    await limiter.check(session, principal.api_key_id or principal.client_id)
    return principal.client_id


ReportingClientId = Annotated[str, Depends(reporting_client)]


class IngestGuard:
    """The key's and the project's buckets for Sentry ingest, answered the way SDKs obey."""

    def __init__(self, keys: ReportRateLimiterDep, projects: ProjectRateLimiterDep) -> None:
        self._limits: list[tuple[RateLimiter, RateLimitScope]] = [
            (keys, "key"),
            (projects, "project"),
        ]

    async def check(self, session: AsyncSession, target: IngestTarget) -> None:
        """Takes a token from each bucket (committing ``session``: call it before writing)."""
        for limiter, scope in self._limits:
            key = target.api_key_id if scope == "key" else f"project:{target.project_id}"
            wait = await limiter.retry_after(session, key)
            if wait > 0:
                raise Problem(
                    429,
                    f"Too many events for this {scope}; SDKs drop events until the limit lifts.",
                    problem_type=PROBLEM_BASE_URI + "rate-limited",
                    headers=rate_limit_headers(wait, scope),
                )


IngestGuardDep = Annotated[IngestGuard, Depends(IngestGuard)]
