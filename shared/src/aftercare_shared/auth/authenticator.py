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
from aftercare_shared.auth.staff_tokens import StaffTokens
from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.problems import Problem

ApiKeyLookup = Callable[[AsyncSession, str], Awaitable[ResolvedApiKey | None]]
"""Resolve a key digest to its client from the calling service's own tables, on the
request's own session: one connection and one transaction per request, not two."""


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["staff", "client"]
    subject: str
    client_id: str | None = None
    api_key_id: str | None = None
    scope: ApiKeyScope | None = None
    """A client key's scope; None for staff."""

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def submits_only(self) -> bool:
        """An ``ingest`` key: it may send reports and events and read nothing."""
        return self.scope == "ingest"

    def may_see_client(self, client_id: str) -> bool:
        return self.is_staff or self.client_id == client_id


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
    def __init__(self, *, staff_tokens: StaffTokens, api_key_lookup: ApiKeyLookup) -> None:
        self._staff_tokens = staff_tokens
        self._api_key_lookup = api_key_lookup

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
            return Principal(kind="staff", subject="admin")
        subject = self._staff_tokens.verify(token)
        if subject is not None:
            return Principal(kind="staff", subject=subject)
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
