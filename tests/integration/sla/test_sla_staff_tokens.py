"""A staff token revoked at intake is refused by sla once sla has read the event; a client
key past its expiry is refused too (the read models fed by aftercare.clients)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.auth import StaffRole, StaffTokens, generate_api_key
from aftercare_shared.clock import FrozenClock, use_clock, utc_now
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    StaffTokenIssued,
    StaffTokenRevoked,
)
from devkit.databases import admin_token
from tests.integration.sla.sla_support import apply_events


def _staff_token(role: StaffRole, token_id: str) -> dict[str, str]:
    token = StaffTokens(admin_token=admin_token()).issue(
        token_id=token_id,
        subject="alice",
        role=role,
        ttl_seconds=600,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_a_revoked_staff_token_is_refused_once_the_event_is_applied(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    token_id = str(uuid.uuid4())
    headers = _staff_token("staff", token_id)
    # Before its issue event arrives a genuine token already works: the copy says "revoked?".
    assert (await api.get("/v1/plans", headers=headers)).status_code == 200
    now = utc_now()
    await apply_events(
        app_sessions,
        StaffTokenIssued(
            token_id=token_id,
            subject="alice",
            role="staff",
            created_at=now,
            expires_at=now + timedelta(minutes=10),
        ),
    )
    assert (await api.get("/v1/plans", headers=headers)).status_code == 200
    await apply_events(app_sessions, StaffTokenRevoked(token_id=token_id, revoked_at=utc_now()))
    refused = await api.get("/v1/plans", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_revocation_that_overtakes_its_issue_still_holds(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    token_id = str(uuid.uuid4())
    now = utc_now()
    await apply_events(
        app_sessions,
        StaffTokenRevoked(token_id=token_id, revoked_at=now),
        StaffTokenIssued(
            token_id=token_id,
            subject="alice",
            role="admin",
            created_at=now,
            expires_at=now + timedelta(minutes=10),
        ),
    )
    assert (await api.get("/v1/plans", headers=_staff_token("admin", token_id))).status_code == 401


async def test_a_viewer_reads_sla_and_writes_nothing(api: httpx.AsyncClient) -> None:
    viewer = _staff_token("viewer", str(uuid.uuid4()))
    assert (await api.get("/v1/plans", headers=viewer)).status_code == 200
    refused = await api.post("/v1/plans", json={"name": "x", "targets": {}}, headers=viewer)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_client_key_is_refused_after_its_expiry(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    key = generate_api_key()
    client_id = str(uuid.uuid4())
    start = utc_now()
    await apply_events(
        app_sessions,
        ClientApiKeyIssued(
            api_key_id=str(uuid.uuid4()),
            client_id=client_id,
            key_hash=key.key_hash,
            prefix=key.prefix,
            created_at=start,
            expires_at=start + timedelta(hours=1),
        ),
    )
    headers = {"Authorization": f"Bearer {key.key}"}
    with use_clock(FrozenClock(start)) as clock:
        assert (await api.get(f"/v1/tickets/{client_id}/sla", headers=headers)).status_code == 404
        clock.advance(timedelta(hours=1))
        assert (await api.get(f"/v1/tickets/{client_id}/sla", headers=headers)).status_code == 401
