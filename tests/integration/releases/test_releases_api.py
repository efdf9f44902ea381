"""The release lifecycle over HTTP against real Postgres, with the app's lifespan running."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cloudevents.v1.http import from_json
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases.models import outbox
from aftercare_shared.clock import FrozenClock, use_clock
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ReleaseCreated, ReleasePublished
from aftercare_shared.pagination import encode_cursor
from tests.integration.releases.releases_support import release_body, row_counts, unique_product

pytestmark = pytest.mark.integration


async def outbox_rows_for(
    session_factory: async_sessionmaker[AsyncSession], release_id: str
) -> list[Any]:
    async with session_factory() as session:
        result = await session.execute(
            select(outbox).where(outbox.c.record_key == release_id).order_by(outbox.c.id)
        )
        return list(result)


async def create(api: httpx.AsyncClient, staff: dict[str, str], **overrides: object) -> Any:
    response = await api.post("/v1/releases", json=release_body(**overrides), headers=staff)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_then_publish_leaves_created_then_published_in_the_outbox(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    tickets = [str(uuid.uuid4()), str(uuid.uuid4())]
    body = release_body(kind="security", ticket_ids=[tickets[0], tickets[1].upper(), tickets[0]])
    created = await api.post("/v1/releases", json=body, headers=staff)
    assert created.status_code == 201, created.text
    release = created.json()
    assert created.headers["location"] == f"/v1/releases/{release['id']}"
    assert release["status"] == "draft"
    assert release["published_at"] is None
    assert release["ticket_ids"] == tickets  # lower-cased, de-duplicated, order kept
    assert release["unknown_ticket_ids"] == tickets  # no ticket events seen for them
    assert (release["product"], release["version"], release["kind"]) == (
        body["product"],
        "1.0.0",
        "security",
    )

    published = await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["published_at"] is not None

    rows = await outbox_rows_for(session_factory, release["id"])
    assert [row.topic for row in rows] == ["aftercare.releases", "aftercare.releases"]
    events = [CloudEvent.from_json_bytes(row.payload) for row in rows]
    assert [event.type for event in events] == [
        "aftercare.release.created.v1",
        "aftercare.release.published.v1",
    ]
    assert all(event.subject == release["id"] for event in events)
    assert all(event.source == "/aftercare/releases" for event in events)
    assert [row.event_id for row in rows] == [event.id for event in events]

    created_payload = ReleaseCreated.model_validate(events[0].data)
    assert created_payload.ticket_ids == tickets
    assert created_payload.kind == "security"
    published_payload = ReleasePublished.model_validate(events[1].data)
    assert published_payload.release_id == release["id"]
    assert published_payload.ticket_ids == tickets
    assert published_payload.notes == "Fixes the checkout."
    assert (
        published_payload.published_at.isoformat().replace("+00:00", "Z")
        == (published.json()["published_at"])
    )
    # The official SDK reads the record value as a structured-mode CloudEvent too.
    official = from_json(rows[1].payload)
    assert official["type"] == "aftercare.release.published.v1"
    assert official.data["release_id"] == release["id"]


async def test_the_relay_publishes_the_outbox_rows(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    release = await create(api, staff)
    deadline = time.monotonic() + 30
    while True:
        rows = await outbox_rows_for(session_factory, release["id"])
        if rows and all(row.published_at is not None for row in rows):
            break
        assert time.monotonic() < deadline, "the outbox relay did not publish in time"
        await asyncio.sleep(0.2)


async def test_publishing_twice_returns_the_same_release_and_emits_once(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    release = await create(api, staff)
    first = await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)
    second = await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)
    assert first.status_code == second.status_code == 200
    assert second.json()["published_at"] == first.json()["published_at"]
    assert second.json() == first.json()
    types = [
        CloudEvent.from_json_bytes(row.payload).short_type
        for row in await outbox_rows_for(session_factory, release["id"])
    ]
    assert types == ["release.created", "release.published"]


async def test_concurrent_publishes_emit_exactly_one_event(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    release = await create(api, staff, ticket_ids=[str(uuid.uuid4())])
    responses = await asyncio.gather(
        *(api.post(f"/v1/releases/{release['id']}/publish", headers=staff) for _ in range(6))
    )
    assert {response.status_code for response in responses} == {200}
    assert len({response.json()["published_at"] for response in responses}) == 1
    types = [
        CloudEvent.from_json_bytes(row.payload).short_type
        for row in await outbox_rows_for(session_factory, release["id"])
    ]
    assert types.count("release.published") == 1


async def test_duplicate_product_version_is_a_409_and_writes_nothing(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    product = unique_product()
    original = await create(api, staff, product=product, version="2.1.0")
    before = await row_counts(session_factory)
    duplicate = await api.post(
        "/v1/releases",
        json=release_body(product=f"  {product} ", version="2.1.0", ticket_ids=[str(uuid.uuid4())]),
        headers=staff,
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    problem = duplicate.json()
    assert problem["type"] == "https://aftercare.dev/problems/release-exists"
    assert problem["title"] == "Release already exists"
    assert problem["existing_release_id"] == original["id"]
    assert product in problem["detail"]
    assert await row_counts(session_factory) == before


async def test_concurrent_duplicates_create_one_release(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    body = release_body()
    before = await row_counts(session_factory)
    responses = await asyncio.gather(
        *(api.post("/v1/releases", json=body, headers=staff) for _ in range(5))
    )
    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409, 409]
    assert {response.json()["type"] for response in responses if response.status_code == 409} == {
        "https://aftercare.dev/problems/release-exists"
    }
    after = await row_counts(session_factory)
    assert (after.releases - before.releases, after.outbox - before.outbox) == (1, 1)


@pytest.mark.parametrize(
    "overrides",
    [
        {"version": ""},
        {"version": "   "},
        {"version": "1.0 final"},
        {"product": ""},
        {"product": "p" * 101},
        {"kind": "hotfix"},
        {"ticket_ids": ["not-a-ticket"]},
        {"ticket_ids": [str(uuid.uuid4()) for _ in range(1001)]},
        {"notes": "n" * 20_001},
        {"status": "published"},
        {"ticket_ids": None},
    ],
)
async def test_invalid_input_is_a_problem_and_changes_nothing(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
    overrides: dict[str, object],
) -> None:
    before = await row_counts(session_factory)
    response = await api.post("/v1/releases", json=release_body(**overrides), headers=staff)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    assert await row_counts(session_factory) == before


async def test_malformed_json_is_a_problem(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    before = await row_counts(session_factory)
    response = await api.post(
        "/v1/releases",
        content=b'{"product": "x", ',
        headers={**staff, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert await row_counts(session_factory) == before


async def test_patch_changes_a_draft(api: httpx.AsyncClient, staff: dict[str, str]) -> None:
    release = await create(api, staff)
    ticket = str(uuid.uuid4())
    patched = await api.patch(
        f"/v1/releases/{release['id']}",
        json={"kind": "performance", "notes": "Faster search.", "ticket_ids": [ticket]},
        headers=staff,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["kind"], body["notes"], body["ticket_ids"]) == (
        "performance",
        "Faster search.",
        [ticket],
    )
    assert body["updated_at"] > release["updated_at"]
    assert body["created_at"] == release["created_at"]

    cleared = await api.patch(f"/v1/releases/{release['id']}", json={"notes": None}, headers=staff)
    assert cleared.json()["notes"] is None
    assert cleared.json()["ticket_ids"] == [ticket]  # left out: unchanged

    fetched = await api.get(f"/v1/releases/{release['id']}", headers=staff)
    assert fetched.json() == cleared.json()


async def test_patch_on_a_published_release_is_a_409_and_changes_nothing(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    release = await create(api, staff)
    published = (await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)).json()
    before = await row_counts(session_factory)
    response = await api.patch(
        f"/v1/releases/{release['id']}",
        json={"notes": "too late", "ticket_ids": [str(uuid.uuid4())]},
        headers=staff,
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://aftercare.dev/problems/release-published"
    assert response.json()["title"] == "Release is published"
    assert await row_counts(session_factory) == before
    assert (await api.get(f"/v1/releases/{release['id']}", headers=staff)).json() == published


async def test_patch_refuses_bad_input(api: httpx.AsyncClient, staff: dict[str, str]) -> None:
    release = await create(api, staff)
    for body in (
        {"version": "9.9"},
        {"kind": None},
        {"ticket_ids": None},
        {"ticket_ids": ["x"]},
        {"kind": "nope"},
        {"notes": "fine", "kind": None},
    ):
        response = await api.patch(f"/v1/releases/{release['id']}", json=body, headers=staff)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"], body
    unchanged = await api.get(f"/v1/releases/{release['id']}", headers=staff)
    assert unchanged.json() == release


@pytest.mark.parametrize("field", ["kind", "ticket_ids"])
async def test_patch_null_is_only_for_notes(
    api: httpx.AsyncClient, staff: dict[str, str], field: str
) -> None:
    release = await create(api, staff)
    response = await api.patch(f"/v1/releases/{release['id']}", json={field: None}, headers=staff)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "https://aftercare.dev/problems/validation-failed"
    assert [error["message"] for error in problem["errors"]] == [
        f"Value error, {field} cannot be null; leave it out to keep it unchanged"
    ]


async def test_unknown_release_is_a_404_everywhere(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    missing = str(uuid.uuid4())
    for method, path, body in (
        ("GET", f"/v1/releases/{missing}", None),
        ("PATCH", f"/v1/releases/{missing}", {"notes": "x"}),
        ("POST", f"/v1/releases/{missing}/publish", None),
        ("GET", f"/v1/releases/{missing}/changelog", None),
        ("GET", "/v1/releases/not-even-a-uuid", None),
        ("GET", "/v1/releases/%00", None),
        ("POST", "/v1/releases/%00/publish", None),
    ):
        response = await api.request(method, path, json=body, headers=staff)
        assert response.status_code == 404, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "https://aftercare.dev/problems/not-found"
        assert response.json()["detail"] == "No such release."


async def test_list_pages_in_version_precedence_without_gaps_or_repeats(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    product = unique_product()
    ids = [
        (await create(api, staff, product=product, version=f"1.{minor}.0"))["id"]
        for minor in range(5)
    ]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"product": product, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/releases", params=params, headers=staff)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids  # precedence order (1.0.0 first), not creation order
    assert pages == 3


async def test_list_filters_by_status_and_kind(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    product = unique_product()
    draft = await create(api, staff, product=product, version="1.0.0", kind="feature")
    shipped = await create(api, staff, product=product, version="1.1.0", kind="security")
    await api.post(f"/v1/releases/{shipped['id']}/publish", headers=staff)

    async def ids(**params: str) -> list[str]:
        response = await api.get(
            "/v1/releases", params={"product": product, **params}, headers=staff
        )
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(status="draft") == [draft["id"]]
    assert await ids(status="published") == [shipped["id"]]
    assert await ids(kind="security") == [shipped["id"]]
    assert await ids() == [draft["id"], shipped["id"]]  # version precedence


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"status": "archived"},
        {"product": "nul\x00inside"},
    ],
)
async def test_list_refuses_bad_query_parameters(
    api: httpx.AsyncClient, staff: dict[str, str], params: dict[str, str | int]
) -> None:
    response = await api.get("/v1/releases", params=params, headers=staff)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def _raw_cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "not base64 at all!",
        "é",
        _raw_cursor(b"[1, 2]"),
        _raw_cursor(b'{"c": "2026-11-27T12:00:00+00:00", "i": "x"}'),  # not a key list
        _raw_cursor(b'[{"t": "yesterday"}, "x"]'),
        _raw_cursor(b'[{"t": "2026-11-27T12:00:00"}, "x"]'),  # a time without a zone
        _raw_cursor(b'[{"t": "2026-11-27T12:00:00+00:00"}, ""]'),
        encode_cursor(WHEN, 7),  # an id that is not a string
        encode_cursor(WHEN),  # too short
        encode_cursor(WHEN, "x", "y"),  # too long
        encode_cursor("x", WHEN),  # the keys swapped
    ],
)
async def test_a_bad_cursor_is_the_one_invalid_cursor_answer(
    api: httpx.AsyncClient, staff: dict[str, str], cursor: str
) -> None:
    response = await api.get("/v1/releases", params={"cursor": cursor}, headers=staff)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://aftercare.dev/problems/validation-failed"
    assert [(error["kind"], error["location"]) for error in problem["errors"]] == [
        ("invalid_cursor", "query.cursor")
    ]


async def test_a_page_holds_fifty_releases_unless_told_otherwise(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    product = unique_product()
    for patch in range(51):
        await create(api, staff, product=product, version=f"1.0.{patch}")
    first = await api.get("/v1/releases", params={"product": product}, headers=staff)
    assert first.status_code == 200
    assert len(first.json()["items"]) == 50
    assert first.json()["next_cursor"] is not None
    rest = await api.get(
        "/v1/releases",
        params={"product": product, "cursor": first.json()["next_cursor"]},
        headers=staff,
    )
    assert [item["version"] for item in rest.json()["items"]] == ["1.0.50"]
    assert rest.json()["next_cursor"] is None
    widest = await api.get("/v1/releases", params={"product": product, "limit": 200}, headers=staff)
    assert len(widest.json()["items"]) == 51


async def test_release_times_come_from_the_clock(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    product = unique_product()
    clock = FrozenClock(WHEN)
    with use_clock(clock):
        release = await create(api, staff, product=product)
        # Releases created in the same instant still page in one order (ties go by id).
        twin = await create(api, staff, product=product, version="1.0.1")
        assert release["created_at"] == release["updated_at"] == "2026-11-27T12:00:00Z"

        clock.advance(timedelta(hours=1))
        patched = await api.patch(
            f"/v1/releases/{release['id']}", json={"notes": "Later."}, headers=staff
        )
        assert patched.json()["updated_at"] == "2026-11-27T13:00:00Z"
        assert patched.json()["created_at"] == "2026-11-27T12:00:00Z"

        clock.advance(timedelta(hours=1))
        published = await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)
        assert published.json()["published_at"] == "2026-11-27T14:00:00Z"
        assert published.json()["updated_at"] == "2026-11-27T14:00:00Z"

        clock.advance(timedelta(days=1))
        again = await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)
        assert again.json()["published_at"] == "2026-11-27T14:00:00Z"

    rows = await outbox_rows_for(session_factory, release["id"])
    published_event = ReleasePublished.model_validate(
        CloudEvent.from_json_bytes(rows[-1].payload).data
    )
    assert published_event.published_at == WHEN + timedelta(hours=2)
    pages = [
        (await api.get("/v1/releases", params={"product": product, "limit": 1}, headers=staff))
    ]
    cursor = pages[0].json()["next_cursor"]
    pages.append(
        await api.get(
            "/v1/releases", params={"product": product, "limit": 1, "cursor": cursor}, headers=staff
        )
    )
    listed = [item["id"] for page in pages for item in page.json()["items"]]
    assert sorted(listed) == sorted([release["id"], twin["id"]])
    assert pages[1].json()["next_cursor"] is None


async def test_openapi_documents_the_problem_answers(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    patch = paths["/v1/releases/{release_id}"]["patch"]["responses"]
    for status in ("401", "403", "404", "409", "422"):
        assert "application/problem+json" in patch[status]["content"], status
    listing = paths["/v1/releases"]["get"]
    assert {parameter["name"] for parameter in listing["parameters"]} >= {"limit", "cursor"}
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (
        1,
        200,
        50,
    )
    assert "404" in paths["/v1/tickets/{ticket_id}/releases"]["get"]["responses"]


async def test_writes_need_staff_and_every_call_needs_a_credential(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    release = await create(api, staff)
    assert (await api.post("/v1/releases", json=release_body())).status_code == 401
    assert (await api.get(f"/v1/releases/{release['id']}")).status_code == 401
    bogus = {"Authorization": "Bearer ak_not-a-real-key-at-all"}
    assert (await api.get("/v1/releases", headers=bogus)).status_code == 401


async def test_changelog_lists_tickets_with_what_is_known(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    unknown = str(uuid.uuid4())
    release = await create(api, staff, ticket_ids=[unknown], version="3.0.0")
    changelog = await api.get(f"/v1/releases/{release['id']}/changelog", headers=staff)
    assert changelog.status_code == 200
    body = changelog.json()
    assert body["entries"] == [
        {
            "ticket_id": unknown,
            "title": None,
            "priority": None,
            "status": None,
            "change_type": "fixed",
        }
    ]
    assert "(title not known yet)" in body["markdown"]
    markdown = await api.get(
        f"/v1/releases/{release['id']}/changelog", params={"format": "markdown"}, headers=staff
    )
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text == body["markdown"]


async def test_openapi_document_is_served(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert "/v1/releases/{release_id}/publish" in document["paths"]
    assert "/v1/tickets/{ticket_id}/releases" in document["paths"]


async def test_a_product_named_in_any_unicode_gets_a_percent_encoded_location(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    # Found by the schemathesis run: a name outside Latin-1 in the Location header was a 500.
    name = f"caf\u00e9-\U000637f0-{uuid.uuid4().hex[:6]}"
    created = await api.post("/v1/products", json={"name": name}, headers=staff)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location.isascii()
    read = await api.get(location, headers=staff)
    assert read.status_code == 200, read.text
    assert read.json()["name"] == created.json()["name"]
