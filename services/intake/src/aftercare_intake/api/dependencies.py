"""What intake's routers take from the app, typed: settings, token minting, rate limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.errors import ClientKeyRequiredError, IngestCredentialsMissingError
from aftercare_intake.ingest import IngestTarget
from aftercare_intake.one_statement_filing import OneStatementFiling
from aftercare_intake.report_token_leases import (
    KEY_GONE,
    TAKE_STATEMENT,
    Bucket,
    Refused,
    TokenLeases,
    take_leased,
)
from aftercare_intake.sentry.rate_limits import RateLimitScope, rate_limit_headers
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.auth import StaffTokens
from aftercare_shared.auth.dependencies import SubmittingPrincipal
from aftercare_shared.clock import utc_now
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


class IngestTokenLeases(TokenLeases):
    """Sentry ingest's leased tokens: one set per process (the guard is made per request)."""


IngestTokenLeasesDep = Annotated[IngestTokenLeases, Depends(provided(IngestTokenLeases))]


OneStatementFilingDep = Annotated[OneStatementFiling, Depends(provided(OneStatementFiling))]


class IngestGuard:
    """The key's and the project's buckets for Sentry ingest, answered the way SDKs obey.

    Tokens are leased a few at a time (:mod:`aftercare_intake.report_token_leases`): most
    envelopes spend one held in process and cost the database nothing here.
    """

    def __init__(
        self,
        keys: ReportRateLimiterDep,
        projects: ProjectRateLimiterDep,
        leases: IngestTokenLeasesDep,
    ) -> None:
        self._keys = keys
        self._projects = projects
        self._leases = leases

    async def check(self, session: AsyncSession, target: IngestTarget) -> None:
        """Spend a token of each bucket; taking new ones commits ``session``, so call it
        before writing."""

        async def run(parameters: dict[str, Any]) -> Mapping[str, Any]:
            row = dict((await session.execute(TAKE_STATEMENT, parameters)).mappings().one())
            await session.commit()  # the bucket rows' locks end with the statement
            return row

        taken = await take_leased(
            self._leases,
            run,
            api_key_id=target.api_key_id,
            first=Bucket.of(self._keys, target.api_key_id),
            second=Bucket.of(self._projects, f"project:{target.project_id}"),
            now=utc_now(),
        )
        if taken == KEY_GONE:  # revoked between the key's lookup and the take
            raise IngestCredentialsMissingError("The DSN's public key is unknown or revoked.")
        if isinstance(taken, Refused):
            scope: RateLimitScope = "key" if taken.bucket.limiter is self._keys else "project"
            raise Problem(
                429,
                f"Too many events for this {scope}; SDKs drop events until the limit lifts.",
                problem_type=PROBLEM_BASE_URI + "rate-limited",
                headers=rate_limit_headers(taken.retry_after, scope),
            )


IngestGuardDep = Annotated[IngestGuard, Depends(IngestGuard)]
