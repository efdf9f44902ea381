"""Plan versions, calendar overrides and un-assignment over HTTP, with the app running."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.sla.sla_support import (
    OFFICE_HOURS_LONDON,
    STAFF,
    plan_body,
    row_counts,
    seed_client_key,
)

Sessions = async_sessionmaker[AsyncSession]


async def new_plan(api: httpx.AsyncClient, **overrides: object) -> dict[str, Any]:
    created = await api.post("/v1/plans", json=plan_body(**overrides), headers=STAFF)
    assert created.status_code == 201, created.text
    plan: dict[str, Any] = created.json()
    return plan


async def test_a_patch_makes_a_new_version_and_versions_are_paged_newest_first(
    api: httpx.AsyncClient,
) -> None:
    plan = await new_plan(api, pause_on=["waiting_on_client", "triaged"], on_reopen="restart")
    assert (plan["pause_on"], plan["on_reopen"]) == (["triaged", "waiting_on_client"], "restart")

    first = await api.patch(
        f"/v1/plans/{plan['id']}",
        json={"name": "Gold v2", "calendar": OFFICE_HOURS_LONDON},
        headers=STAFF,
    )
    second = await api.patch(
        f"/v1/plans/{plan['id']}", json={"calendar": None, "on_reopen": "resume"}, headers=STAFF
    )

    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["name"]) == (2, "Gold v2")
    assert first.json()["calendar"]["timezone"] == "Europe/London"
    assert second.json()["version"] == 3
    assert (second.json()["calendar"], second.json()["on_reopen"]) == (None, "resume")
    assert (await api.get(f"/v1/plans/{plan['id']}", headers=STAFF)).json() == second.json()

    seen: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await api.get(f"/v1/plans/{plan['id']}/versions", params=params, headers=STAFF)
        assert page.status_code == 200, page.text
        seen += [version["version"] for version in page.json()["items"]]
        if page.json()["next_cursor"] is None:
            break
        params["cursor"] = page.json()["next_cursor"]
    assert seen == [3, 2, 1]
    unchanged = await api.patch(f"/v1/plans/{plan['id']}", json={}, headers=STAFF)
    assert unchanged.json() == second.json()  # nothing sent: no new version
    oldest = (
        await api.get(f"/v1/plans/{plan['id']}/versions?cursor={params['cursor']}", headers=STAFF)
    ).json()["items"][0]
    assert (oldest["name"], oldest["calendar"], oldest["on_reopen"]) == (
        plan["name"],
        None,
        "restart",
    )


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"name": None}, "body"),
        ({"pause_on": ["resolved"]}, "body.pause_on"),
        ({"on_reopen": "rewind"}, "body.on_reopen"),
        ({"at_risk_ratio": 1.5}, "body.at_risk_ratio"),
        ({"calendar": {"timezone": "Mars/Olympus"}}, "body.calendar"),
        ({"colour": "gold"}, "body.colour"),
    ],
)
async def test_a_bad_patch_is_a_422_and_makes_no_version(
    api: httpx.AsyncClient, body: dict[str, Any], location: str
) -> None:
    plan = await new_plan(api)

    refused = await api.patch(f"/v1/plans/{plan['id']}", json=body, headers=STAFF)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "https://aftercare.dev/problems/validation-failed"
    assert location in [error["location"] for error in refused.json()["errors"]]
    assert (await api.get(f"/v1/plans/{plan['id']}", headers=STAFF)).json()["version"] == 1


async def test_patching_or_listing_versions_of_an_unknown_plan_is_404(
    api: httpx.AsyncClient,
) -> None:
    patched = await api.patch(f"/v1/plans/{uuid.uuid4()}", json={"name": "x"}, headers=STAFF)
    versions = await api.get(f"/v1/plans/{uuid.uuid4()}/versions", headers=STAFF)

    assert (patched.status_code, versions.status_code) == (404, 404)
    assert patched.json()["type"] == "https://aftercare.dev/problems/not-found"


async def test_a_client_key_may_not_change_a_plan(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    plan = await new_plan(api)
    client_key = await seed_client_key(app_sessions, str(uuid.uuid4()))

    refused = await api.patch(f"/v1/plans/{plan['id']}", json={"name": "x"}, headers=client_key)
    unassign = await api.delete(f"/v1/clients/{uuid.uuid4()}/plan", headers=client_key)

    assert (refused.status_code, unassign.status_code) == (403, 403)


async def test_a_calendar_override_is_stored_and_a_bad_one_refused(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    plan = await new_plan(api, calendar=OFFICE_HOURS_LONDON)
    client_id = str(uuid.uuid4())
    before = await row_counts(app_sessions)

    refused = await api.put(
        f"/v1/clients/{client_id}/plan",
        json={"plan_id": plan["id"], "calendar_override": {"timezone": "Nowhere/Town"}},
        headers=STAFF,
    )
    after_refusal = await row_counts(app_sessions)
    assigned = await api.put(
        f"/v1/clients/{client_id}/plan",
        json={
            "plan_id": plan["id"],
            "calendar_override": {"timezone": "America/New_York", "holiday_country": "US"},
        },
        headers=STAFF,
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["location"] == "body.calendar_override"
    assert after_refusal == before  # nothing stored, nothing announced
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["calendar_override"] == {
        "timezone": "America/New_York",
        "holiday_country": "US",
    }


async def test_unassigning_removes_the_plan_and_a_second_time_is_404(
    api: httpx.AsyncClient,
) -> None:
    plan = await new_plan(api)
    client_id = str(uuid.uuid4())
    await api.put(f"/v1/clients/{client_id}/plan", json={"plan_id": plan["id"]}, headers=STAFF)

    removed = await api.delete(f"/v1/clients/{client_id}/plan", headers=STAFF)
    again = await api.delete(f"/v1/clients/{client_id}/plan", headers=STAFF)
    fetched = await api.get(f"/v1/clients/{client_id}/plan", headers=STAFF)

    assert removed.status_code == 204
    assert (again.status_code, fetched.status_code) == (404, 404)
    assert again.headers["content-type"] == "application/problem+json"
