"""Changelogs in three scopes: one release, a product between two versions, one client."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.releases.patch_support import deploy, events_of
from tests.integration.releases.releases_support import (
    apply_events,
    release_body,
    seed_client,
    ticket_created,
    unique_product,
)

pytestmark = pytest.mark.integration


async def test_changelogs_in_three_scopes(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    alpha, beta = await seed_client(session_factory), await seed_client(session_factory)
    bug = ticket_created(alpha.client_id, "Cart loses items", "P2")
    feature = ticket_created(alpha.client_id, "Export orders")
    feature = feature.model_copy(update={"kind": "feature_request"})
    hole = ticket_created(beta.client_id, "Beta's secret hole", "P1")
    hole = hole.model_copy(update={"kind": "security"})
    for event in (bug, feature, hole):
        await apply_events(session_factory, event, subject=event.ticket_id)
    product = unique_product("portal")
    plan = [
        ("1.0.0", [bug.ticket_id], {}),
        ("1.1.0", [feature.ticket_id, hole.ticket_id], {}),
        ("1.2.0-rc.1", [], {}),
        ("1.2.0", [bug.ticket_id], {bug.ticket_id: "performance"}),
    ]
    ids = {}
    for version, tickets, change_types in plan:
        created = await api.post(
            "/v1/releases",
            json=release_body(
                product=product, version=version, ticket_ids=tickets, change_types=change_types
            ),
            headers=staff,
        )
        assert created.status_code == 201, created.text
        ids[version] = created.json()["id"]
        await api.post(f"/v1/releases/{ids[version]}/publish", headers=staff)

    # Per release: sections from the ticket kinds (feature request → added, security).
    one = (await api.get(f"/v1/releases/{ids['1.1.0']}/changelog", headers=staff)).json()
    assert [
        (s["change_type"], [e["ticket_id"] for e in s["entries"]]) for s in one["sections"]
    ] == [
        ("added", [feature.ticket_id]),
        ("security", [hole.ticket_id]),
    ]
    assert one["markdown"].index("### Added") < one["markdown"].index("### Security")
    [published] = await events_of(session_factory, "release.published", ids["1.1.0"])
    sections = published.data["changelog"]
    assert [section["change_type"] for section in sections] == ["added", "security"]

    # Per product, after `from` up to and including `to`, newest first.
    ranged = await api.get(
        f"/v1/products/{product}/changelog",
        params={"from": "1.0.0", "to": "v1.2.0"},
        headers=staff,
    )
    assert ranged.status_code == 200, ranged.text
    assert [r["version"] for r in ranged.json()["releases"]] == ["1.2.0", "1.2.0-rc.1", "1.1.0"]
    assert ranged.json()["releases"][0]["sections"][0]["change_type"] == "performance"
    markdown = await api.get(
        f"/v1/products/{product}/changelog",
        params={"to": "1.1.0", "format": "markdown"},
        headers=staff,
    )
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.index("## [1.1.0]") < markdown.text.index("## [1.0.0]")
    assert "1.2.0" not in markdown.text
    bad = await api.get(f"/v1/products/{product}/changelog", params={"from": "1.0"}, headers=staff)
    assert bad.status_code == 422
    assert (
        await api.get(f"/v1/products/{product}/changelog", headers=alpha.headers)
    ).status_code == 403

    # Per client: what it reported or runs, and only its own tickets.
    mine = (await api.get(f"/v1/clients/{alpha.client_id}/changelog", headers=alpha.headers)).json()
    assert {r["version"] for r in mine["releases"]} == {"1.0.0", "1.1.0", "1.2.0"}
    listed = {e["ticket_id"] for r in mine["releases"] for e in r["entries"]}
    assert listed == {bug.ticket_id, feature.ticket_id}
    assert "secret hole" not in mine["markdown"]
    # beta reported only in 1.1.0 but runs 1.2.0-rc.1: it sees releases up to what it runs.
    await deploy(api, staff, client_id=beta.client_id, product=product, version="1.2.0-rc.1")
    theirs = (await api.get(f"/v1/clients/{beta.client_id}/changelog", headers=staff)).json()
    assert [r["version"] for r in theirs["releases"]] == ["1.2.0-rc.1", "1.1.0", "1.0.0"]
    assert {e["ticket_id"] for r in theirs["releases"] for e in r["entries"]} == {hole.ticket_id}
    since = await api.get(
        f"/v1/clients/{beta.client_id}/changelog",
        params={"since": "2999-01-01T00:00:00Z", "format": "markdown"},
        headers=staff,
    )
    assert "No releases in this range." in since.text
