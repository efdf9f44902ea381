"""A client key sees only published releases that fix its tickets, and only its tickets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import ClientApiKeyRevoked
from tests.integration.releases.releases_support import (
    SeededClient,
    apply_events,
    release_body,
    seed_client,
    seed_ticket,
    unique_product,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Scenario:
    product: str
    alpha: SeededClient
    beta: SeededClient
    alpha_ticket: str
    beta_ticket: str
    unknown_ticket: str
    shared_release: dict[str, Any]
    """Published; fixes alpha's and beta's tickets and one nobody knows."""
    alpha_draft: dict[str, Any]
    beta_release: dict[str, Any]


async def _create(api: httpx.AsyncClient, staff: dict[str, str], **body: object) -> Any:
    response = await api.post("/v1/releases", json=release_body(**body), headers=staff)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def scenario(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
) -> Scenario:
    alpha = await seed_client(session_factory)
    beta = await seed_client(session_factory)
    alpha_ticket = await seed_ticket(session_factory, alpha.client_id, "Checkout *crashes*", "P1")
    beta_ticket = await seed_ticket(session_factory, beta.client_id, "Beta's secret project")
    unknown_ticket = str(uuid.uuid4())
    product = unique_product()
    shared = await _create(
        api,
        staff,
        product=product,
        version="1.0.0",
        ticket_ids=[beta_ticket, alpha_ticket, unknown_ticket],
    )
    shared = (await api.post(f"/v1/releases/{shared['id']}/publish", headers=staff)).json()
    alpha_draft = await _create(
        api, staff, product=product, version="1.1.0", kind="security", ticket_ids=[alpha_ticket]
    )
    beta_release = await _create(
        api, staff, product=product, version="1.2.0", ticket_ids=[beta_ticket]
    )
    beta_release = (
        await api.post(f"/v1/releases/{beta_release['id']}/publish", headers=staff)
    ).json()
    return Scenario(
        product=product,
        alpha=alpha,
        beta=beta,
        alpha_ticket=alpha_ticket,
        beta_ticket=beta_ticket,
        unknown_ticket=unknown_ticket,
        shared_release=shared,
        alpha_draft=alpha_draft,
        beta_release=beta_release,
    )


async def test_staff_see_every_ticket_and_the_unknown_ones_flagged(
    api: httpx.AsyncClient, staff: dict[str, str], scenario: Scenario
) -> None:
    release = (await api.get(f"/v1/releases/{scenario.shared_release['id']}", headers=staff)).json()
    assert release["ticket_ids"] == [
        scenario.beta_ticket,
        scenario.alpha_ticket,
        scenario.unknown_ticket,
    ]
    assert release["unknown_ticket_ids"] == [scenario.unknown_ticket]


async def test_a_client_sees_a_published_release_with_only_its_own_tickets(
    api: httpx.AsyncClient, scenario: Scenario
) -> None:
    response = await api.get(
        f"/v1/releases/{scenario.shared_release['id']}", headers=scenario.alpha.headers
    )
    assert response.status_code == 200
    release = response.json()
    assert release["ticket_ids"] == [scenario.alpha_ticket]
    assert release["unknown_ticket_ids"] == []
    assert release["published_at"] == scenario.shared_release["published_at"]


async def test_a_client_gets_404_for_other_clients_releases_and_for_drafts(
    api: httpx.AsyncClient, scenario: Scenario
) -> None:
    for release in (scenario.beta_release, scenario.alpha_draft):
        for path in (f"/v1/releases/{release['id']}", f"/v1/releases/{release['id']}/changelog"):
            response = await api.get(path, headers=scenario.alpha.headers)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"


async def test_a_client_lists_only_what_it_may_see(
    api: httpx.AsyncClient, staff: dict[str, str], scenario: Scenario
) -> None:
    params = {"product": scenario.product}
    alpha = (await api.get("/v1/releases", params=params, headers=scenario.alpha.headers)).json()
    beta = (await api.get("/v1/releases", params=params, headers=scenario.beta.headers)).json()
    everything = (await api.get("/v1/releases", params=params, headers=staff)).json()
    assert [item["id"] for item in alpha["items"]] == [scenario.shared_release["id"]]
    assert [item["id"] for item in beta["items"]] == [  # version precedence
        scenario.shared_release["id"],
        scenario.beta_release["id"],
    ]
    assert len(everything["items"]) == 3
    assert all(item["ticket_ids"] == [scenario.alpha_ticket] for item in alpha["items"])


async def test_a_client_reads_the_changelog_of_its_own_tickets_only(
    api: httpx.AsyncClient, staff: dict[str, str], scenario: Scenario
) -> None:
    path = f"/v1/releases/{scenario.shared_release['id']}/changelog"
    mine = (await api.get(path, headers=scenario.alpha.headers)).json()
    assert mine["entries"] == [
        {
            "ticket_id": scenario.alpha_ticket,
            "title": "Checkout *crashes*",
            "priority": "P1",
            "status": "new",
            "change_type": "fixed",
        }
    ]
    assert "Checkout \\*crashes\\*" in mine["markdown"]
    assert "secret" not in mine["markdown"]
    full = (await api.get(path, headers=staff)).json()
    assert [entry["ticket_id"] for entry in full["entries"]] == [
        scenario.beta_ticket,
        scenario.alpha_ticket,
        scenario.unknown_ticket,
    ]
    assert full["markdown"].index("Checkout") < full["markdown"].index("secret")  # P1 first


async def test_which_releases_fixed_a_ticket(
    api: httpx.AsyncClient, staff: dict[str, str], scenario: Scenario
) -> None:
    path = f"/v1/tickets/{scenario.alpha_ticket}/releases"
    by_staff = (await api.get(path, headers=staff)).json()["items"]
    assert [release["id"] for release in by_staff] == [
        scenario.shared_release["id"],
        scenario.alpha_draft["id"],
    ]
    by_alpha = await api.get(path, headers=scenario.alpha.headers)
    assert by_alpha.status_code == 200
    assert [release["id"] for release in by_alpha.json()["items"]] == [
        scenario.shared_release["id"]
    ]

    # Another client's ticket does not exist for alpha, nor does a ticket nobody knows.
    for ticket in (scenario.beta_ticket, scenario.unknown_ticket, "not-a-ticket"):
        response = await api.get(f"/v1/tickets/{ticket}/releases", headers=scenario.alpha.headers)
        assert response.status_code == 404
    # Staff may ask about a ticket whose events have not arrived yet.
    unknown = await api.get(f"/v1/tickets/{scenario.unknown_ticket}/releases", headers=staff)
    assert [release["id"] for release in unknown.json()["items"]] == [scenario.shared_release["id"]]
    for ticket in (str(uuid.uuid4()), "not-a-ticket", "%00"):
        nothing = await api.get(f"/v1/tickets/{ticket}/releases", headers=staff)
        assert nothing.status_code == 200
        assert nothing.json() == {"items": [], "next_cursor": None}
    upper = await api.get(f"/v1/tickets/{scenario.alpha_ticket.upper()}/releases", headers=staff)
    assert len(upper.json()["items"]) == 2

    # One release per page: the cursor walks both, oldest first, then stops.
    first = (await api.get(path, params={"limit": 1}, headers=staff)).json()
    assert [release["id"] for release in first["items"]] == [scenario.shared_release["id"]]
    second = (
        await api.get(path, params={"limit": 1, "cursor": first["next_cursor"]}, headers=staff)
    ).json()
    assert [release["id"] for release in second["items"]] == [scenario.alpha_draft["id"]]
    assert second["next_cursor"] is None
    bad = await api.get(path, params={"cursor": "garbage"}, headers=staff)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["kind"] == "invalid_cursor"


async def test_a_client_key_cannot_write(api: httpx.AsyncClient, scenario: Scenario) -> None:
    headers = scenario.alpha.headers
    release_id = scenario.alpha_draft["id"]
    assert (await api.post("/v1/releases", json=release_body(), headers=headers)).status_code == 403
    assert (
        await api.patch(f"/v1/releases/{release_id}", json={"notes": "x"}, headers=headers)
    ).status_code == 403
    assert (
        await api.post(f"/v1/releases/{release_id}/publish", headers=headers)
    ).status_code == 403


async def test_a_revoked_key_fails_at_once(
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    scenario: Scenario,
) -> None:
    path = f"/v1/releases/{scenario.shared_release['id']}"
    assert (await api.get(path, headers=scenario.alpha.headers)).status_code == 200
    revoked = ClientApiKeyRevoked(
        api_key_id=scenario.alpha.api_key_id,
        client_id=scenario.alpha.client_id,
        revoked_at=utc_now(),
    )
    await apply_events(session_factory, revoked, subject=scenario.alpha.client_id)
    assert (await api.get(path, headers=scenario.alpha.headers)).status_code == 401
