"""Turn an ``Authorization: Bearer`` header into a Principal, or a 401 problem."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth.api_keys import (
    ApiKeyScope,
    ResolvedApiKey,
    hash_api_key,
    looks_like_api_key,
)
from aftercare_shared.auth.staff_tokens import StaffRole, StaffTokens
from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.problems import Problem

ApiKeyLookup = Callable[[AsyncSession, str], Awaitable[ResolvedApiKey | None]]
"""Resolve a key digest to its client from the calling service's own tables, on the
request's own session: one connection and one transaction per request, not two."""

StaffTokenRevocationCheck = Callable[[AsyncSession, str], Awaitable[bool]]
"""Whether the staff token with this id has been revoked, from the calling service's own
read model of staff tokens (intake: its own table), on the request's session."""

READ_METHODS = frozenset({"GET", "HEAD"})
"""What a ``viewer`` staff token may do."""


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["staff", "client"]
    subject: str
    client_id: str | None = None
    api_key_id: str | None = None
    scope: ApiKeyScope | None = None
    """A client key's scope; None for staff."""
    role: StaffRole | None = None
    """A staff credential's role; None for client keys."""
    staff_token_id: str | None = None
    """The signed staff token's id; None for the bootstrap admin token and client keys."""

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_admin(self) -> bool:
        """The bootstrap admin token or an ``admin``-role token; the subject grants nothing."""
        return self.role == "admin"

    @property
    def reads_only(self) -> bool:
        return self.role == "viewer"

    @property
    def submits_only(self) -> bool:
        """An ``ingest`` key: it may send reports and events and read nothing."""
        return self.scope == "ingest"

    def may_see_client(self, client_id: str) -> bool:
        return self.is_staff or self.client_id == client_id


ADMIN_SUBJECT = "admin"
"""The subject the bootstrap admin token authenticates as (a name only: ``role`` grants)."""


def unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        detail,
        problem_type=PROBLEM_BASE_URI + "unauthenticated",
        headers={"WWW-Authenticate": 'Bearer realm="aftercare"'},
    )


def forbidden(detail: str = "This call needs a staff token.") -> Problem:
    return Problem(403, detail, problem_type=PROBLEM_BASE_URI + "forbidden")


class Authenticator:
    def __init__(
        self,
        *,
        staff_tokens: StaffTokens,
        api_key_lookup: ApiKeyLookup,
        staff_token_revoked: StaffTokenRevocationCheck,
    ) -> None:
        self._staff_tokens = staff_tokens
        self._api_key_lookup = api_key_lookup
        self._staff_token_revoked = staff_token_revoked

    @property
    def staff_tokens(self) -> StaffTokens:
        return self._staff_tokens

    async def authenticate(self, authorization: str | None, session: AsyncSession) -> Principal:
        if not authorization:
            raise unauthenticated("Send Authorization: Bearer <staff token or client API key>.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("Only Bearer credentials are accepted.")
        if self._staff_tokens.is_admin_token(token):
            return Principal(kind="staff", subject=ADMIN_SUBJECT, role="admin")
        verified = self._staff_tokens.verify(token)
        if verified is not None:
            if await self._staff_token_revoked(session, verified.token_id):
                raise unauthenticated("The credential is unknown, expired or revoked.")
            return Principal(
                kind="staff",
                subject=verified.subject,
                role=verified.role,
                staff_token_id=verified.token_id,
            )
        if looks_like_api_key(token):
            resolved = await self._api_key_lookup(session, hash_api_key(token))
            if resolved is not None:
                return Principal(
                    kind="client",
                    subject=f"api-key:{resolved.api_key_id}",
                    client_id=resolved.client_id,
                    api_key_id=resolved.api_key_id,
                    scope=resolved.scope,
                )
        raise unauthenticated("The credential is unknown, expired or revoked.")
