"""Endpoint management over HTTP against a real, migrated Postgres."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from aftercare_notify.models import Endpoint
from aftercare_shared.auth import generate_api_key
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import ClientApiKeyIssued, ClientApiKeyRevoked
from aftercare_shared.events.factory import new_event
from tests.integration.notify.notify_support import (
    STAFF,
    RunningNotify,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    ticket_created,
    unique_client_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def notify() -> AsyncIterator[RunningNotify]:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url, secret_rotation_overlap_seconds=3600)) as running,
    ):
        yield running


@pytest.fixture
async def strict_notify() -> AsyncIterator[RunningNotify]:
    """Notify with the production SSRF policy: no allowlist."""
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url, ssrf_allowlist="")) as running,
    ):
        yield running


async def _endpoint_count(notify: RunningNotify) -> int:
    async with notify.session_factory() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Endpoint)) or 0)


async def _issue_client_key(notify: RunningNotify, client_id: str) -> tuple[str, str]:
    """Feed the read model the event intake would publish; returns (key id, key)."""
    new_key = generate_api_key()
    api_key_id = f"key-{client_id}"
    issued = ClientApiKeyIssued(
        api_key_id=api_key_id,
        client_id=client_id,
        key_hash=new_key.key_hash,
        prefix=new_key.prefix,
        created_at=utc_now(),
    )
    await notify.fan_out(
        new_event(issued, service="intake", subject=client_id, client_id=client_id)
    )
    return api_key_id, new_key.key


async def test_create_endpoint_returns_a_standard_webhooks_secret(notify: RunningNotify) -> None:
    client_id = unique_client_id()
    response = await notify.client.post(
        "/v1/endpoints",
        json={
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["ticket.created", "sla.*", "ticket.created"],
            "channel": "webhook",
            "client_id": client_id,
            "description": "ops pager",
        },
        headers=STAFF,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/endpoints/{body['id']}"
    assert body["url"] == "http://127.0.0.1:9/hook"
    assert body["event_types"] == ["ticket.created", "sla.*"]
    assert body["channel"] == "webhook"
    assert body["client_id"] == client_id
    assert body["status"] == "enabled"
    assert body["created_at"]
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) >= 24

    fetched = await notify.client.get(f"/v1/endpoints/{body['id']}", headers=STAFF)
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()  # shown at creation, rotation and …/secret only
    secret = await notify.client.get(f"/v1/endpoints/{body['id']}/secret", headers=STAFF)
    assert secret.json()["secret"] == body["secret"]


@pytest.mark.parametrize(
    ("body", "status", "problem_type", "detail_part"),
    [
        (
            {"url": "http://127.0.0.1:9/", "event_types": ["ticket.exploded"]},
            422,
            "invalid-event-types",
            "ticket.created",  # the known types are listed
        ),
        (
            {"url": "http://127.0.0.1:9/", "event_types": ["nosuch.*"]},
            422,
            "invalid-event-types",
            "'nosuch.*'",
        ),
        (
            {"url": "http://127.0.0.1:9/", "event_types": ["*"], "channel": "email"},
            422,
            "invalid-endpoint-target",
            "needs an `address`",
        ),
        (
            {"address": "ops@example.com", "event_types": ["*"], "channel": "slack"},
            422,
            "invalid-endpoint-target",
            "needs a `url`",
        ),
        (
            {"address": "ops@example.com\r\nBcc: x@y.z", "event_types": ["*"], "channel": "email"},
            422,
            "invalid-endpoint-target",
            "not usable",
        ),
        (
            {"url": "http://127.0.0.1:9/", "event_types": ["*"], "min_priority": "P9"},
            422,
            "validation-failed",
            "",
        ),
        (
            {"url": "http://127.0.0.1:9/", "event_types": ["*"], "channel": "pigeon"},
            422,
            "channel-not-supported",
            "Unknown channel",
        ),
        (
            {"url": "ftp://127.0.0.1/", "event_types": ["*"]},
            422,
            "url-not-allowed",
            "only http and https",
        ),
        (
            {"url": "http://user:pw@127.0.0.1:9/", "event_types": ["*"]},
            422,
            "url-not-allowed",
            "credentials",
        ),
        (
            {"url": "http://no-such-host.invalid/", "event_types": ["*"]},
            422,
            "url-unresolvable",
            "no-such-host.invalid",
        ),
        ({"url": "http://127.0.0.1:9/", "event_types": []}, 422, "validation-failed", ""),
        ({"event_types": ["*"]}, 422, "invalid-endpoint-target", "needs a `url`"),
        (
            {"url": "http://127.0.0.1:9/", "event_types": ["*"], "unexpected": 1},
            422,
            "validation-failed",
            "",
        ),
    ],
)
async def test_bad_input_gets_a_problem_and_writes_nothing(
    notify: RunningNotify, body: dict[str, Any], status: int, problem_type: str, detail_part: str
) -> None:
    response = await notify.client.post("/v1/endpoints", json=body, headers=STAFF)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith(problem_type)
    assert detail_part in problem["detail"]
    if problem_type == "invalid-event-types":
        assert "sla.breached" in problem["known_event_types"]
    assert await _endpoint_count(notify) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://10.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
async def test_ssrf_refused_at_creation_without_allowlist(
    strict_notify: RunningNotify, url: str
) -> None:
    response = await strict_notify.client.post(
        "/v1/endpoints", json={"url": url, "event_types": ["*"]}, headers=STAFF
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("url-not-allowed")
    assert await _endpoint_count(strict_notify) == 0


async def test_patch_delete_and_list(notify: RunningNotify) -> None:
    created = await notify.create_endpoint(url="http://127.0.0.1:9/a", event_types=["*"])
    other = await notify.create_endpoint(url="http://127.0.0.1:9/b", event_types=["sla.*"])
    endpoint_url = f"/v1/endpoints/{created['id']}"

    patched = await notify.client.patch(
        endpoint_url,
        json={"url": "http://127.0.0.1:9/c", "event_types": ["release.*"], "description": "x"},
        headers=STAFF,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["url"] == "http://127.0.0.1:9/c"
    assert patched.json()["event_types"] == ["release.*"]
    assert patched.json()["description"] == "x"

    disabled = await notify.client.patch(endpoint_url, json={"status": "disabled"}, headers=STAFF)
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["disabled_reason"] == "disabled by admin"
    (event,) = await notify.outbox_events("aftercare.notification.endpoint_disabled.v1")
    assert event.data["endpoint_id"] == created["id"]
    enabled = await notify.client.patch(endpoint_url, json={"status": "enabled"}, headers=STAFF)
    assert enabled.json()["status"] == "enabled"
    assert enabled.json()["disabled_reason"] is None

    for bad in (
        {"event_types": ["ticket.nope"]},
        {"url": "gopher://127.0.0.1/"},
        {"url": None},
        {"event_types": None},
        {"status": None},
        {"status": "paused"},
        {"secret": "whsec_AAAA"},
    ):
        refused = await notify.client.patch(endpoint_url, json=bad, headers=STAFF)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    unchanged = (await notify.client.get(endpoint_url, headers=STAFF)).json()
    assert unchanged["url"] == "http://127.0.0.1:9/c"
    assert unchanged["event_types"] == ["release.*"]
    assert unchanged["description"] == "x"
    assert unchanged["status"] == "enabled"

    # Left out keeps a value; null clears the one field that may be cleared.
    kept = await notify.client.patch(endpoint_url, json={}, headers=STAFF)
    assert kept.status_code == 200, kept.text
    assert kept.json()["description"] == "x"
    cleared = await notify.client.patch(endpoint_url, json={"description": None}, headers=STAFF)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["description"] is None
    assert cleared.json()["url"] == "http://127.0.0.1:9/c"

    listed = await notify.client.get("/v1/endpoints", params={"limit": 1}, headers=STAFF)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"]
    rest = await notify.client.get(
        "/v1/endpoints", params={"limit": 1, "cursor": listed.json()["next_cursor"]}, headers=STAFF
    )
    assert [item["id"] for item in rest.json()["items"]] == [other["id"]]
    assert rest.json()["next_cursor"] is None  # the page after it would be empty
    everything = await notify.client.get("/v1/endpoints", headers=STAFF)
    assert [item["id"] for item in everything.json()["items"]] == [created["id"], other["id"]]
    assert everything.json()["next_cursor"] is None

    deleted = await notify.client.delete(endpoint_url, headers=STAFF)
    assert deleted.status_code == 204
    assert (await notify.client.get(endpoint_url, headers=STAFF)).status_code == 404
    assert (await notify.client.delete(endpoint_url, headers=STAFF)).status_code == 404


async def test_rotate_secret_keeps_the_old_one_for_the_overlap(notify: RunningNotify) -> None:
    created = await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    before = utc_now()
    rotated = await notify.client.post(
        f"/v1/endpoints/{created['id']}/rotate-secret", headers=STAFF
    )
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != created["secret"]
    expires_at = datetime.fromisoformat(body["previous_secret_expires_at"])
    assert before + timedelta(seconds=3590) < expires_at < before + timedelta(seconds=3610)
    async with notify.session_factory() as session:
        endpoint = await session.get(Endpoint, created["id"])
        assert endpoint is not None
        assert endpoint.secrets_in_use(utc_now()) == [body["secret"], created["secret"]]
        assert endpoint.secrets_in_use(expires_at + timedelta(seconds=1)) == [body["secret"]]


async def test_authentication_and_tenant_isolation(notify: RunningNotify) -> None:
    mine, theirs = unique_client_id(), unique_client_id()
    own = await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"], client_id=mine)
    foreign = await notify.create_endpoint(
        url="http://127.0.0.1:9/", event_types=["*"], client_id=theirs
    )
    agency = await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    api_key_id, key = await _issue_client_key(notify, mine)
    as_client = {"Authorization": f"Bearer {key}"}

    assert (await notify.client.get("/v1/endpoints")).status_code == 401
    listed = await notify.client.get("/v1/endpoints", headers=as_client)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [own["id"]]
    # Asking for another client's list still answers with the caller's own.
    spoofed = await notify.client.get(
        "/v1/endpoints", params={"client_id": theirs}, headers=as_client
    )
    assert [item["id"] for item in spoofed.json()["items"]] == [own["id"]]
    assert (await notify.client.get(f"/v1/endpoints/{own['id']}", headers=as_client)).is_success
    for hidden in (foreign["id"], agency["id"]):
        response = await notify.client.get(f"/v1/endpoints/{hidden}", headers=as_client)
        assert response.status_code == 404
        deliveries = await notify.client.get(
            f"/v1/endpoints/{hidden}/deliveries", headers=as_client
        )
        assert deliveries.status_code == 404

    writes = [
        ("POST", "/v1/endpoints", {"url": "http://127.0.0.1:9/", "event_types": ["*"]}),
        ("PATCH", f"/v1/endpoints/{own['id']}", {"status": "disabled"}),
        ("DELETE", f"/v1/endpoints/{own['id']}", None),
        ("POST", f"/v1/endpoints/{own['id']}/rotate-secret", None),
        ("GET", f"/v1/endpoints/{own['id']}/secret", None),
        ("POST", f"/v1/endpoints/{own['id']}/replay", {"since": "2026-01-01T00:00:00Z"}),
    ]
    for method, path, body in writes:
        response = await notify.client.request(method, path, json=body, headers=as_client)
        assert response.status_code == 403, (method, path, response.text)
    assert await _endpoint_count(notify) == 3

    revoked = ClientApiKeyRevoked(api_key_id=api_key_id, client_id=mine, revoked_at=utc_now())
    await notify.fan_out(new_event(revoked, service="intake", subject=mine, client_id=mine))
    assert (await notify.client.get("/v1/endpoints", headers=as_client)).status_code == 401


async def test_unknown_ids_are_404_problems(notify: RunningNotify) -> None:
    for method, path in (
        ("GET", "/v1/endpoints/nope"),
        ("GET", "/v1/endpoints/nope/deliveries"),
        ("POST", "/v1/endpoints/nope/rotate-secret"),
        ("GET", "/v1/deliveries/nope"),
        ("POST", "/v1/deliveries/nope/retry"),
    ):
        response = await notify.client.request(method, path, headers=STAFF)
        assert response.status_code == 404, (method, path)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "https://aftercare.dev/problems/not-found"
        assert "'nope'" in response.json()["detail"]
    replay = await notify.client.post(
        "/v1/endpoints/nope/replay", json={"since": "2026-01-01T00:00:00Z"}, headers=STAFF
    )
    assert replay.status_code == 404
    naive = await notify.client.post(
        "/v1/endpoints/nope/replay", json={"since": "2026-01-01T00:00:00"}, headers=STAFF
    )
    assert naive.status_code == 422


async def test_pages_neither_skip_nor_repeat_while_endpoints_are_added(
    notify: RunningNotify,
) -> None:
    first = [
        (await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"]))["id"]
        for _ in range(3)
    ]
    page = await notify.client.get("/v1/endpoints", params={"limit": 2}, headers=STAFF)
    assert [item["id"] for item in page.json()["items"]] == first[:2]
    added = (await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"]))["id"]
    rest = await notify.client.get(
        "/v1/endpoints", params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=STAFF
    )
    assert [item["id"] for item in rest.json()["items"]] == [first[2], added]
    assert rest.json()["next_cursor"] is None


async def test_deliveries_are_paged_newest_first(notify: RunningNotify) -> None:
    endpoint = await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    events = [ticket_created(unique_client_id()) for _ in range(3)]
    for event in events:
        await notify.fan_out(event)
    path = f"/v1/endpoints/{endpoint['id']}/deliveries"

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await notify.client.get(path, params=params, headers=STAFF)
        assert page.status_code == 200, page.text
        seen += [item["message_id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [event.id for event in reversed(events)]

    pending = await notify.client.get(path, params={"status": "pending"}, headers=STAFF)
    assert len(pending.json()["items"]) == 3
    succeeded = await notify.client.get(path, params={"status": "succeeded"}, headers=STAFF)
    assert succeeded.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "WyJ4IiwgMV0", "eyJ0IjogMX0"])
async def test_a_bad_cursor_is_a_422_on_every_list(notify: RunningNotify, cursor: str) -> None:
    endpoint = await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    for path in ("/v1/endpoints", f"/v1/endpoints/{endpoint['id']}/deliveries"):
        response = await notify.client.get(path, params={"cursor": cursor}, headers=STAFF)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"].endswith("/validation-failed")
        assert problem["errors"][0]["kind"] == "invalid_cursor"
        assert problem["errors"][0]["location"] == "query.cursor"


@pytest.mark.parametrize("limit", [0, 201, -1])
async def test_page_size_is_bounded(notify: RunningNotify, limit: int) -> None:
    endpoint = await notify.create_endpoint(url="http://127.0.0.1:9/", event_types=["*"])
    for path in ("/v1/endpoints", f"/v1/endpoints/{endpoint['id']}/deliveries"):
        response = await notify.client.get(path, params={"limit": limit}, headers=STAFF)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["type"].endswith("/validation-failed")
