"""Staff tokens with roles, listed and revoked; client keys that expire (intake, real Postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from aftercare_shared.clock import FrozenClock, use_clock
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    StaffTokenIssued,
    StaffTokenRevoked,
)
from aftercare_shared.events.factory import payload_as
from tests.integration.intake.intake_support import STAFF, count, outbox_events


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _mint(api: httpx.AsyncClient, headers: dict[str, str], **body: object) -> httpx.Response:
    return await api.post("/v1/staff-tokens", json={"subject": "alice", **body}, headers=headers)


async def test_a_minted_token_is_listed_announced_and_refused_at_once_when_revoked(
    api: httpx.AsyncClient, database_url: str
) -> None:
    minted = await _mint(api, STAFF, role="staff", ttl_seconds=600)
    assert minted.status_code == 201, minted.text
    body = minted.json()
    assert (body["subject"], body["role"], body["created_by"]) == ("alice", "staff", "admin")
    token = _bearer(body["token"])
    assert (await api.get("/v1/clients", headers=token)).status_code == 200

    listed = (await api.get("/v1/staff-tokens", headers=STAFF)).json()["items"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert "token" not in listed[0]  # shown once, at minting

    assert (await api.delete(f"/v1/staff-tokens/{body['id']}", headers=STAFF)).status_code == 204
    refused = await api.get("/v1/clients", headers=token)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    # Revoking twice is harmless and announces nothing new.
    assert (await api.delete(f"/v1/staff-tokens/{body['id']}", headers=STAFF)).status_code == 204
    listed = (await api.get("/v1/staff-tokens", headers=STAFF)).json()["items"]
    assert listed[0]["revoked_at"] is not None

    events = [event for event in await outbox_events(database_url) if "staff" in event.type]
    assert [event.type for event in events] == [
        "aftercare.staff.token_issued.v1",
        "aftercare.staff.token_revoked.v1",
    ]
    issued = payload_as(events[0], StaffTokenIssued)
    assert (issued.token_id, issued.role, issued.subject) == (body["id"], "staff", "alice")
    assert payload_as(events[1], StaffTokenRevoked).token_id == body["id"]
    # The events carry no secret: not the token, not its signature.
    assert body["token"].split(".")[1] not in events[0].model_dump_json()


async def test_only_an_admin_role_manages_tokens_and_the_subject_grants_nothing(
    api: httpx.AsyncClient,
) -> None:
    named_admin = (await _mint(api, STAFF, subject="admin", role="staff")).json()
    as_named_admin = _bearer(named_admin["token"])
    assert (await _mint(api, as_named_admin, role="admin")).status_code == 403
    assert (await api.get("/v1/staff-tokens", headers=as_named_admin)).status_code == 403
    revoke = await api.delete(f"/v1/staff-tokens/{named_admin['id']}", headers=as_named_admin)
    assert revoke.status_code == 403

    second_admin = _bearer((await _mint(api, STAFF, subject="bob", role="admin")).json()["token"])
    by_second_admin = await _mint(api, second_admin, subject="carol", role="viewer")
    assert by_second_admin.status_code == 201
    assert by_second_admin.json()["created_by"] == "bob"
    assert (await api.get("/v1/staff-tokens", headers=second_admin)).status_code == 200
    gone = await api.delete("/v1/staff-tokens/no-such-token", headers=second_admin)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


async def test_a_viewer_reads_everything_and_changes_nothing(
    api: httpx.AsyncClient, database_url: str
) -> None:
    viewer = _bearer((await _mint(api, STAFF, role="viewer")).json()["token"])
    created = await api.post("/v1/clients", json={"name": "Acme"}, headers=STAFF)
    client_id = created.json()["id"]
    assert (await api.get("/v1/clients", headers=viewer)).status_code == 200
    assert (await api.get(f"/v1/clients/{client_id}", headers=viewer)).status_code == 200
    writes = [
        api.post("/v1/clients", json={"name": "Other"}, headers=viewer),
        api.patch(f"/v1/clients/{client_id}", json={"name": "Renamed"}, headers=viewer),
        api.post(f"/v1/clients/{client_id}/api-keys", headers=viewer),
        api.delete("/v1/api-keys/anything", headers=viewer),
        _mint(api, viewer, role="viewer"),
    ]
    for write in writes:
        answer = await write
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert await count(database_url, "clients") == 1
    assert (await api.get(f"/v1/clients/{client_id}", headers=STAFF)).json()["name"] == "Acme"


async def test_a_client_key_with_an_expiry_works_until_then_and_not_after(
    api: httpx.AsyncClient, database_url: str
) -> None:
    start = datetime.now(UTC)
    with use_clock(FrozenClock(start)) as clock:
        client_id = (await api.post("/v1/clients", json={"name": "Acme"}, headers=STAFF)).json()[
            "id"
        ]
        past = await api.post(
            f"/v1/clients/{client_id}/api-keys",
            json={"expires_at": (start - timedelta(seconds=1)).isoformat()},
            headers=STAFF,
        )
        assert past.status_code == 422
        assert past.headers["content-type"] == "application/problem+json"
        expires_at = start + timedelta(hours=1)
        issued = await api.post(
            f"/v1/clients/{client_id}/api-keys",
            json={"expires_at": expires_at.isoformat()},
            headers=STAFF,
        )
        assert issued.status_code == 201, issued.text
        assert datetime.fromisoformat(issued.json()["expires_at"]) == expires_at
        key = _bearer(issued.json()["key"])
        assert (await api.get("/v1/tickets", headers=key)).status_code == 200
        clock.advance(timedelta(hours=1))
        expired = await api.get("/v1/tickets", headers=key)
        assert expired.status_code == 401
    issued_event = next(
        event for event in await outbox_events(database_url) if "api_key_issued" in event.type
    )
    # The other services' read models learn the expiry with the key.
    assert payload_as(issued_event, ClientApiKeyIssued).expires_at == expires_at
