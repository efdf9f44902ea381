"""Staff tokens and client API keys."""

from __future__ import annotations

from typing import cast

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth import (
    Authenticator,
    ResolvedApiKey,
    StaffTokens,
    generate_api_key,
    hash_api_key,
)
from aftercare_shared.auth.authenticator import StaffTokenRevocationCheck
from aftercare_shared.auth.dependencies import current_principal
from aftercare_shared.auth.staff_tokens import STAFF_TOKEN_PREFIX, _b64encode
from aftercare_shared.problems import Problem

ADMIN = "admin-token-for-unit-tests-0123456789"
# The fake lookup below never touches a database, so no session is needed.
NO_SESSION = cast(AsyncSession, None)


def test_staff_token_verifies_until_it_expires() -> None:
    tokens = StaffTokens(admin_token=ADMIN)
    token = tokens.issue(token_id="t1", subject="alice", role="viewer", ttl_seconds=60, now=1_000)
    verified = tokens.verify(token, now=1_030)
    assert verified is not None
    assert (verified.token_id, verified.subject, verified.role) == ("t1", "alice", "viewer")
    assert tokens.verify(token, now=1_060) is None


def test_staff_token_from_another_key_or_tampered_is_refused() -> None:
    token = StaffTokens(admin_token=ADMIN).issue(
        token_id="t1", subject="alice", role="staff", ttl_seconds=60, now=1_000
    )
    other = StaffTokens(admin_token=ADMIN + "x")
    assert other.verify(token, now=1_001) is None
    body, _, signature = token.partition(".")
    forged_body = body[:-1] + ("A" if body[-1] != "A" else "B")
    assert StaffTokens(admin_token=ADMIN).verify(f"{forged_body}.{signature}", now=1_001) is None


def test_a_token_signed_without_an_id_or_a_known_role_is_refused() -> None:
    """Tokens minted before ids and roles (or with an invented role) could never be revoked."""
    tokens = StaffTokens(admin_token=ADMIN)
    for claims in (
        {"sub": "alice", "iat": 1_000, "exp": 2_000},
        {"jti": "t1", "sub": "alice", "role": "root", "iat": 1_000, "exp": 2_000},
    ):
        body = _b64encode(orjson.dumps(claims))
        assert tokens.verify(f"{STAFF_TOKEN_PREFIX}{body}.{tokens._sign(body)}", now=1_001) is None


def test_explicit_signing_key_overrides_the_admin_derived_one() -> None:
    with_key = StaffTokens(admin_token=ADMIN, signing_key="separate-signing-key")
    token = with_key.issue(token_id="t1", subject="bob", role="staff", ttl_seconds=60, now=1_000)
    assert StaffTokens(admin_token=ADMIN).verify(token, now=1_001) is None
    verified = with_key.verify(token, now=1_001)
    assert verified is not None
    assert verified.subject == "bob"


def test_api_keys_are_random_and_only_their_hash_identifies_them() -> None:
    first, second = generate_api_key(), generate_api_key()
    assert first.key != second.key
    assert first.key.startswith("ak_")
    assert first.key.startswith(first.prefix)
    assert first.key_hash == hash_api_key(first.key)
    assert first.key not in first.key_hash


async def _lookup_factory(
    known: dict[str, ResolvedApiKey], revoked: frozenset[str] | set[str] = frozenset()
) -> Authenticator:
    async def lookup(session: AsyncSession, key_hash: str) -> ResolvedApiKey | None:
        return known.get(key_hash)

    return Authenticator(
        staff_tokens=StaffTokens(admin_token=ADMIN),
        api_key_lookup=lookup,
        staff_token_revoked=_revoked_in(revoked),
    )


def _revoked_in(revoked: frozenset[str] | set[str]) -> StaffTokenRevocationCheck:
    async def check(session: AsyncSession, token_id: str) -> bool:
        return token_id in revoked

    return check


async def test_authenticator_tells_staff_from_clients() -> None:
    api_key = generate_api_key()
    authenticator = await _lookup_factory(
        {api_key.key_hash: ResolvedApiKey(api_key_id="k1", client_id="c1")}
    )
    admin = await authenticator.authenticate(f"Bearer {ADMIN}", NO_SESSION)
    client = await authenticator.authenticate(f"Bearer {api_key.key}", NO_SESSION)
    assert admin.is_staff
    assert (client.kind, client.client_id, client.api_key_id) == ("client", "c1", "k1")
    assert client.may_see_client("c1")
    assert not client.may_see_client("c2")


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic abc", "Bearer ", "Bearer ak_unknown_key_value_here", "Bearer nonsense"],
)
async def test_authenticator_refuses_with_401(header: str | None) -> None:
    authenticator = await _lookup_factory({})
    with pytest.raises(Problem) as refused:
        await authenticator.authenticate(header, NO_SESSION)
    assert refused.value.status == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_key_carries_its_scope_and_only_an_ingest_key_submits_only() -> None:
    client_key, ingest_key = generate_api_key(), generate_api_key()
    authenticator = await _lookup_factory(
        {
            client_key.key_hash: ResolvedApiKey(api_key_id="k1", client_id="c1"),
            ingest_key.key_hash: ResolvedApiKey(api_key_id="k2", client_id="c1", scope="ingest"),
        }
    )
    reader = await authenticator.authenticate(f"Bearer {client_key.key}", NO_SESSION)
    submitter = await authenticator.authenticate(f"Bearer {ingest_key.key}", NO_SESSION)
    admin = await authenticator.authenticate(f"Bearer {ADMIN}", NO_SESSION)
    assert (reader.scope, reader.submits_only) == ("client", False)
    assert (submitter.scope, submitter.submits_only) == ("ingest", True)
    assert (admin.scope, admin.submits_only) == (None, False)
    with pytest.raises(Problem) as refused:
        await current_principal(submitter)
    assert refused.value.status == 403
    assert await current_principal(reader) is reader


async def test_the_role_comes_from_the_token_and_a_revoked_token_is_refused() -> None:
    tokens = StaffTokens(admin_token=ADMIN)
    viewer = tokens.issue(token_id="t1", subject="admin", role="viewer", ttl_seconds=60)
    revoked = tokens.issue(token_id="t2", subject="bob", role="admin", ttl_seconds=60)
    authenticator = await _lookup_factory({}, revoked={"t2"})
    bootstrap = await authenticator.authenticate(f"Bearer {ADMIN}", NO_SESSION)
    named_admin = await authenticator.authenticate(f"Bearer {viewer}", NO_SESSION)
    assert (bootstrap.role, bootstrap.is_admin) == ("admin", True)
    # Called "admin", but a viewer: the subject grants nothing.
    assert (named_admin.subject, named_admin.role, named_admin.is_admin) == (
        "admin",
        "viewer",
        False,
    )
    assert named_admin.reads_only
    assert named_admin.staff_token_id == "t1"
    with pytest.raises(Problem) as refused:
        await authenticator.authenticate(f"Bearer {revoked}", NO_SESSION)
    assert refused.value.status == 401
