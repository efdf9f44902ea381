"""Staff tokens and client API keys."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth import (
    Authenticator,
    ResolvedApiKey,
    StaffTokens,
    generate_api_key,
    hash_api_key,
)
from aftercare_shared.auth.dependencies import current_principal
from aftercare_shared.problems import Problem

ADMIN = "admin-token-for-unit-tests-0123456789"
# The fake lookup below never touches a database, so no session is needed.
NO_SESSION = cast(AsyncSession, None)


def test_staff_token_verifies_until_it_expires() -> None:
    tokens = StaffTokens(admin_token=ADMIN)
    token = tokens.issue(subject="alice", ttl_seconds=60, now=1_000)
    assert tokens.verify(token, now=1_030) == "alice"
    assert tokens.verify(token, now=1_060) is None


def test_staff_token_from_another_key_or_tampered_is_refused() -> None:
    token = StaffTokens(admin_token=ADMIN).issue(subject="alice", ttl_seconds=60, now=1_000)
    other = StaffTokens(admin_token=ADMIN + "x")
    assert other.verify(token, now=1_001) is None
    body, _, signature = token.partition(".")
    forged_body = body[:-1] + ("A" if body[-1] != "A" else "B")
    assert StaffTokens(admin_token=ADMIN).verify(f"{forged_body}.{signature}", now=1_001) is None


def test_explicit_signing_key_overrides_the_admin_derived_one() -> None:
    with_key = StaffTokens(admin_token=ADMIN, signing_key="separate-signing-key")
    token = with_key.issue(subject="bob", ttl_seconds=60, now=1_000)
    assert StaffTokens(admin_token=ADMIN).verify(token, now=1_001) is None
    assert with_key.verify(token, now=1_001) == "bob"


def test_api_keys_are_random_and_only_their_hash_identifies_them() -> None:
    first, second = generate_api_key(), generate_api_key()
    assert first.key != second.key
    assert first.key.startswith("ak_")
    assert first.key.startswith(first.prefix)
    assert first.key_hash == hash_api_key(first.key)
    assert first.key not in first.key_hash


async def _lookup_factory(known: dict[str, ResolvedApiKey]) -> Authenticator:
    async def lookup(session: AsyncSession, key_hash: str) -> ResolvedApiKey | None:
        return known.get(key_hash)

    return Authenticator(staff_tokens=StaffTokens(admin_token=ADMIN), api_key_lookup=lookup)


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
