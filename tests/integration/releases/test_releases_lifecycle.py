"""Products, SemVer ordering, and the release lifecycle: schedule, cancel, rollback."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases import use_cases
from aftercare_shared.clock import utc_now
from aftercare_shared.db import create_engine, create_session_factory
from tests.integration.releases.patch_support import events_of, new_product
from tests.integration.releases.releases_support import (
    release_body,
    seed_client,
    seed_ticket,
    unique_product,
)

pytestmark = pytest.mark.integration

# Shuffled on create; the list must come back in SemVer 2.0 precedence.
PRECEDENCE = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0+build.5",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0",
]


async def create(api: httpx.AsyncClient, staff: dict[str, str], **body: object) -> dict[str, str]:
    answer = await api.post("/v1/releases", json=release_body(**body), headers=staff)
    assert answer.status_code == 201, answer.text
    created: dict[str, str] = answer.json()
    return created


async def test_products_are_registered_once_and_listed_by_name(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    name = await new_product(api, staff, ecosystem="PyPI", repository_url="https://example.com/r")
    again = await api.post("/v1/products", json={"name": name}, headers=staff)
    assert again.status_code == 409
    assert again.json()["type"] == "https://aftercare.dev/problems/product-exists"
    shown = (await api.get(f"/v1/products/{name}", headers=staff)).json()
    assert shown["ecosystem"] == "PyPI"
    assert (await api.get("/v1/products/nope-nope", headers=staff)).status_code == 404
    listed = (await api.get("/v1/products", params={"limit": 200}, headers=staff)).json()
    names = [item["name"] for item in listed["items"]]
    assert names == sorted(names)


async def test_releases_list_in_semver_precedence_whatever_the_creation_order(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    product = unique_product()
    shuffled = PRECEDENCE[:]
    random.Random(3).shuffle(shuffled)
    for version in shuffled:
        await create(api, staff, product=product, version=version)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"product": product, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/releases", params=params, headers=staff)).json()
        seen += [item["version"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == PRECEDENCE
    # A naming release is enough to register its product.
    assert (await api.get(f"/v1/products/{product}", headers=staff)).status_code == 200


@pytest.mark.parametrize(
    ("given", "stored"),
    [("v2.1.0", "2.1.0"), ("shop@2.2.0", "2.2.0"), ("V2.3.0-rc.1", "2.3.0-rc.1")],
)
async def test_versions_are_normalised(
    api: httpx.AsyncClient, staff: dict[str, str], given: str, stored: str
) -> None:
    assert (await create(api, staff, version=given))["version"] == stored


@pytest.mark.parametrize("version", ["1.0", "v3", "2026-11-27", "1.0.0-01", "build_512"])
async def test_a_version_that_is_not_semver_is_a_422(
    api: httpx.AsyncClient, staff: dict[str, str], version: str
) -> None:
    answer = await api.post("/v1/releases", json=release_body(version=version), headers=staff)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["location"] == "body.version"


async def test_the_same_precedence_is_the_same_release(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    product = unique_product()
    await create(api, staff, product=product, version="1.0.0+build.1")
    clash = await api.post(
        "/v1/releases", json=release_body(product=product, version="v1.0.0+build.2"), headers=staff
    )
    assert clash.status_code == 409
    assert clash.json()["type"] == "https://aftercare.dev/problems/release-exists"


async def test_a_scheduled_release_publishes_itself_once_across_two_replicas(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
    releases_database_url: str,
) -> None:
    releases = [await create(api, staff, version=f"4.0.{n}") for n in range(6)]
    past = (utc_now() - timedelta(seconds=1)).isoformat()
    for release in releases:
        answer = await api.post(
            f"/v1/releases/{release['id']}/schedule", json={"publish_at": past}, headers=staff
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "scheduled"
    # Two replicas: two engines, each running the job's round at the same moment.
    engines = [
        create_engine(releases_database_url, pool_size=2, application_name=f"replica-{n}")
        for n in range(2)
    ]
    try:
        factories = [create_session_factory(engine) for engine in engines]

        async def round_of(factory: async_sessionmaker[AsyncSession]) -> int:
            async with factory() as session:
                return await use_cases.publish_due_releases(session, limit=3)

        handled = 0
        for _ in range(4):
            handled += sum(await asyncio.gather(*(round_of(f) for f in factories)))
    finally:
        for engine in engines:
            await engine.dispose()
    for release in releases:
        shown = (await api.get(f"/v1/releases/{release['id']}", headers=staff)).json()
        assert shown["status"] == "published"
        published = await events_of(session_factory, "release.published", release["id"])
        assert len(published) == 1, release["version"]
    # The served app's own periodic job is a third replica and may take some of them first;
    # the rounds can never claim more releases than there are (none published twice).
    assert handled <= len(releases)


async def test_a_release_scheduled_later_waits_and_can_be_cancelled(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    release = await create(api, staff, version="5.0.0")
    later = (utc_now() + timedelta(hours=1)).isoformat()
    await api.post(
        f"/v1/releases/{release['id']}/schedule", json={"publish_at": later}, headers=staff
    )
    async with session_factory() as session:
        await use_cases.publish_due_releases(session, limit=100)
    assert (await api.get(f"/v1/releases/{release['id']}", headers=staff)).json()[
        "status"
    ] == "scheduled"
    cancelled = await api.post(f"/v1/releases/{release['id']}/cancel", headers=staff)
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["publish_at"] is None
    refused = await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)
    assert refused.status_code == 409
    assert refused.json()["type"] == "https://aftercare.dev/problems/release-transition"
    naive = await api.post(
        f"/v1/releases/{release['id']}/schedule",
        json={"publish_at": "2026-12-01T10:00:00"},
        headers=staff,
    )
    assert naive.status_code == 422


async def test_rollback_withdraws_a_published_release_and_names_its_tickets(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    client = await seed_client(session_factory)
    ticket = await seed_ticket(session_factory, client.client_id, "Checkout crashes")
    release = await create(api, staff, version="6.0.0", ticket_ids=[ticket])
    draft_rollback = await api.post(
        f"/v1/releases/{release['id']}/rollback", json={"reason": "x"}, headers=staff
    )
    assert draft_rollback.status_code == 409
    await api.post(f"/v1/releases/{release['id']}/publish", headers=staff)
    empty = await api.post(
        f"/v1/releases/{release['id']}/rollback", json={"reason": "  "}, headers=staff
    )
    assert empty.status_code == 422
    rolled = await api.post(
        f"/v1/releases/{release['id']}/rollback",
        json={"reason": "Payments fail on 6.0.0"},
        headers=staff,
    )
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["status"] == "rolled_back"
    assert rolled.json()["rollback_reason"] == "Payments fail on 6.0.0"
    [event] = await events_of(session_factory, "release.rolled_back", release["id"])
    assert event.data["ticket_ids"] == [ticket]
    assert event.data["reason"] == "Payments fail on 6.0.0"
    again = await api.post(
        f"/v1/releases/{release['id']}/rollback", json={"reason": "again"}, headers=staff
    )
    assert again.status_code == 409
    # A client still sees the release it was told about, marked yanked in its changelog.
    markdown = await api.get(
        f"/v1/releases/{release['id']}/changelog",
        params={"format": "markdown"},
        headers=client.headers,
    )
    assert "[YANKED]" in markdown.text
