"""Intake's HTTP API against a real, migrated Postgres (and Kafka for the lifespan)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_intake.app import create_app
from aftercare_intake.domain import REOPENED_STATUS
from aftercare_intake.models import Base
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.events.catalog import TicketReopened
from aftercare_shared.events.factory import payload_as
from aftercare_shared.migrations import downgrade, upgrade
from aftercare_shared.names import ServiceName
from tests.conftest import common_settings_for
from tests.integration.intake.intake_support import (
    STAFF,
    client_with_key,
    count,
    outbox_events,
)
from tests.support.asgi import serving
from tests.support.schema_drift import migrated_schema


async def test_report_opens_ticket_then_deduplicates(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    auth = {"Authorization": f"Bearer {key}"}
    report = {"title": "Checkout fails for order 1234", "severity": "high"}

    first = await api.post("/v1/reports", json=report, headers=auth)
    second = await api.post(
        "/v1/reports", json={**report, "title": "Checkout fails for order 9876"}, headers=auth
    )

    assert first.status_code == 201
    assert first.json()["priority"] == "P2"
    assert first.json()["deduplicated"] is False
    assert second.status_code == 200
    assert second.json() == {**first.json(), "occurrences": 2, "deduplicated": True}
    ticket = (await api.get(f"/v1/tickets/{first.json()['ticket_id']}", headers=auth)).json()
    assert ticket["client_id"] == client_id
    assert ticket["occurrences"] == 2
    types = [event.type for event in await outbox_events(database_url)]
    assert types.count("aftercare.ticket.created.v1") == 1
    # Within the announcement interval of ticket.created: coalesced, announced later.
    assert types.count("aftercare.ticket.occurred.v1") == 0


async def test_concurrent_identical_reports_make_one_ticket(api: httpx.AsyncClient) -> None:
    _, key = await client_with_key(api)
    auth = {"Authorization": f"Bearer {key}"}
    report = {"title": "Same crash", "severity": "low", "fingerprint": "crash-1"}
    answers = await asyncio.gather(
        *(api.post("/v1/reports", json=report, headers=auth) for _ in range(15))
    )
    assert sorted(answer.status_code for answer in answers) == [200] * 14 + [201]
    assert {answer.json()["ticket_id"] for answer in answers}.__len__() == 1
    assert max(answer.json()["occurrences"] for answer in answers) == 15


async def test_idempotency_key_replays_the_answer(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "retry-42"}
    report = {"title": "Timeout", "severity": "medium"}
    first = await api.post("/v1/reports", json=report, headers=headers)
    again = await api.post("/v1/reports", json=report, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert await count(database_url, "tickets") == 1

    other_body = await api.post(
        "/v1/reports", json={**report, "title": "Different"}, headers=headers
    )
    assert other_body.status_code == 422
    assert other_body.headers["content-type"] == "application/problem+json"
    assert other_body.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-reused"
    assert await count(database_url, "tickets") == 1


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"severity": "high"}, "body.title"),
        ({"title": "x", "severity": "urgent"}, "body.severity"),
        ({"title": "", "severity": "low"}, "body.title"),
        ({"title": "x", "severity": "low", "surprise": 1}, "body.surprise"),
    ],
)
async def test_bad_reports_are_problems_and_change_nothing(
    api: httpx.AsyncClient, database_url: str, body: dict[str, object], location: str
) -> None:
    _, key = await client_with_key(api)
    answer = await api.post("/v1/reports", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert location in [error["location"] for error in answer.json()["errors"]]
    assert await count(database_url, "tickets") == 0


async def test_malformed_json_and_oversized_bodies_are_refused(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    auth = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    broken = await api.post("/v1/reports", content=b"{not json", headers=auth)
    huge = await api.post("/v1/reports", content=b"x" * 2_000_000, headers=auth)
    assert broken.status_code == 422
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"
    assert await count(database_url, "tickets") == 0


async def test_revoked_key_fails_at_once(api: httpx.AsyncClient) -> None:
    client_id, key = await client_with_key(api)
    keys = (await api.get(f"/v1/clients/{client_id}/api-keys", headers=STAFF)).json()["items"]
    assert "key" not in keys[0]  # shown only once, at creation
    revoked = await api.delete(f"/v1/api-keys/{keys[0]['id']}", headers=STAFF)
    assert revoked.status_code == 204
    answer = await api.post(
        "/v1/reports",
        json={"title": "x", "severity": "low"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


async def test_client_key_sees_only_its_own_tickets(api: httpx.AsyncClient) -> None:
    _, key_a = await client_with_key(api, "A")
    _, key_b = await client_with_key(api, "B")
    ticket = await api.post(
        "/v1/reports",
        json={"title": "A's bug", "severity": "low"},
        headers={"Authorization": f"Bearer {key_a}"},
    )
    ticket_id = ticket.json()["ticket_id"]
    as_b = {"Authorization": f"Bearer {key_b}"}
    assert (await api.get(f"/v1/tickets/{ticket_id}", headers=as_b)).status_code == 404
    assert (await api.get("/v1/tickets", headers=as_b)).json()["items"] == []
    assert (await api.get("/v1/clients", headers=as_b)).status_code == 403
    staff_view = await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)
    assert staff_view.status_code == 200


async def test_rate_limit_answers_429_with_retry_after(api: httpx.AsyncClient) -> None:
    _, key = await client_with_key(api)
    auth = {"Authorization": f"Bearer {key}"}
    codes = []
    for number in range(25):
        answer = await api.post(
            "/v1/reports",
            json={"title": f"bug {number}", "severity": "low", "fingerprint": f"f{number}"},
            headers=auth,
        )
        codes.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) >= 1
    assert codes[:20] == [201] * 20
    assert 429 in codes[20:]


async def test_staff_workflow_emits_events(api: httpx.AsyncClient, database_url: str) -> None:
    _, key = await client_with_key(api)
    opened = await api.post(
        "/v1/reports",
        json={"title": "Slow page", "severity": "critical"},
        headers={"Authorization": f"Bearer {key}"},
    )
    ticket_id = opened.json()["ticket_id"]
    comment = await api.post(
        f"/v1/tickets/{ticket_id}/comments", json={"body": "Looking into it"}, headers=STAFF
    )
    assert comment.status_code == 201
    assert comment.json()["author_kind"] == "staff"
    moved = await api.patch(f"/v1/tickets/{ticket_id}", json={"status": "resolved"}, headers=STAFF)
    assert moved.json()["status"] == "resolved"
    assert moved.json()["resolved_at"] is not None
    reopened = await api.patch(
        f"/v1/tickets/{ticket_id}", json={"status": "triaged"}, headers=STAFF
    )
    assert reopened.json()["status"] == "triaged"
    assert reopened.json()["resolved_at"] is None
    refused = await api.patch(f"/v1/tickets/{ticket_id}", json={"status": "new"}, headers=STAFF)
    assert refused.status_code == 409
    assert refused.json()["type"] == PROBLEM_BASE_URI + "transition-not-allowed"
    events = await outbox_events(database_url)
    assert {event.source for event in events} == {"/aftercare/intake"}
    types = [event.short_type for event in events]
    assert types[-4:] == [
        "ticket.created",
        "ticket.commented",
        "ticket.resolved",
        "ticket.reopened",
    ]
    # Consumers learn where the ticket went back to from the event, not from a convention.
    assert payload_as(events[-1], TicketReopened).status == REOPENED_STATUS == "triaged"


async def test_staff_tokens_are_verified_and_scoped(api: httpx.AsyncClient) -> None:
    minted = await api.post(
        "/v1/staff-tokens", json={"subject": "alice", "ttl_seconds": 600}, headers=STAFF
    )
    assert minted.status_code == 201
    token = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert (await api.get("/v1/clients", headers=token)).status_code == 200
    # Only the admin credential mints tokens; a staff token cannot mint more.
    again = await api.post("/v1/staff-tokens", json={"subject": "mallory"}, headers=token)
    assert again.status_code == 403
    tampered = {"Authorization": f"Bearer {minted.json()['token'][:-2]}xx"}
    assert (await api.get("/v1/clients", headers=tampered)).status_code == 401


async def test_migrations_upgrade_downgrade_upgrade(database_url: str) -> None:
    await asyncio.to_thread(downgrade, ServiceName.INTAKE, database_url)
    assert await _table_exists(database_url, "tickets") is False
    await asyncio.to_thread(upgrade, ServiceName.INTAKE, database_url)
    assert await _table_exists(database_url, "tickets") is True


async def _table_exists(database_url: str, table: str) -> bool:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                sa.text("SELECT to_regclass(:name)"), {"name": f"intake.{table}"}
            )
            return found is not None
    finally:
        await engine.dispose()


async def test_an_expired_idempotency_key_may_be_used_afresh(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "old-key"}
    await api.post("/v1/reports", json={"title": "First", "severity": "low"}, headers=headers)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "UPDATE intake.idempotency_keys SET created_at = now() - interval '25 hours'"
                )
            )
    finally:
        await engine.dispose()
    reused = await api.post(
        "/v1/reports", json={"title": "Second, unrelated", "severity": "low"}, headers=headers
    )
    assert reused.status_code == 201
    assert await count(database_url, "tickets") == 2


async def test_every_client_key_call_is_rate_limited(database_url: str) -> None:
    settings = IntakeSettings(
        # One token per 100 s: the burst alone decides, however slowly a loaded machine answers.
        common=common_settings_for(database_url, client_rate_per_second=0.01, client_rate_burst=3),
        consumer_group=f"test-intake-{database_url[-8:]}",
    )
    async with serving(create_app(settings), base_url="http://intake", startup_timeout=5) as api:
        _, key = await client_with_key(api)
        auth = {"Authorization": f"Bearer {key}"}
        codes = [(await api.get("/v1/tickets", headers=auth)).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3] == 429
        # Staff are not client systems: the per-key limit does not apply to them.
        staff_codes = [(await api.get("/v1/clients", headers=STAFF)).status_code for _ in range(5)]
        assert staff_codes == [200] * 5


async def test_the_migrated_schema_is_what_the_models_describe(database_url: str) -> None:
    tables, differences = await migrated_schema(
        database_url, schema=ServiceName.INTAKE, metadata=Base.metadata
    )
    assert {"clients", "api_keys", "tickets", "comments"} <= tables
    assert differences == []
