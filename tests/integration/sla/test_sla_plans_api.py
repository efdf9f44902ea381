"""Plans and client assignments over HTTP, with the app's full lifespan running."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.events import CloudEvent
from aftercare_sla.models import outbox
from tests.integration.sla.sla_support import (
    OFFICE_HOURS_LONDON,
    STAFF,
    plan_body,
    row_counts,
    seed_client_key,
    targets,
)

Sessions = async_sessionmaker[AsyncSession]


async def all_plans(api: httpx.AsyncClient, *, limit: int = 200) -> list[dict[str, Any]]:
    """Every plan, following next_cursor page by page."""
    plans: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        page = await api.get("/v1/plans", params=params, headers=STAFF)
        assert page.status_code == 200, page.text
        assert set(page.json()) == {"items", "next_cursor"}
        plans += page.json()["items"]
        if page.json()["next_cursor"] is None:
            return plans
        params["cursor"] = page.json()["next_cursor"]


async def test_staff_create_a_plan_and_read_it_back(api: httpx.AsyncClient) -> None:
    body = plan_body(calendar=OFFICE_HOURS_LONDON, at_risk_ratio=0.8)

    created = await api.post("/v1/plans", json=body, headers=STAFF)

    assert created.status_code == 201, created.text
    plan = created.json()
    assert set(plan) == {
        "id",
        "name",
        "targets",
        "calendar",
        "at_risk_ratio",
        "resolution_on",
        "resolution_environment",
        "pause_on",
        "on_reopen",
        "version",
        "created_at",
        "updated_at",
    }
    assert (plan["version"], plan["pause_on"], plan["on_reopen"]) == (
        1,
        ["waiting_on_client"],
        "resume",
    )
    # Tickets a release fixes resolve when it is published unless the plan says otherwise.
    assert plan["resolution_on"] == "release"
    assert plan["resolution_environment"] == "production"
    assert plan["name"] == body["name"]
    # No next-response promise unless the plan makes one.
    assert plan["targets"] == {
        priority: {**minutes, "next_response_minutes": None}
        for priority, minutes in body["targets"].items()  # type: ignore[attr-defined]
    }
    assert plan["at_risk_ratio"] == 0.8
    # The calendar comes back in its canonical form: closed days are spelled out.
    assert plan["calendar"]["timezone"] == "Europe/London"
    assert plan["calendar"]["hours"]["mon"] == [["09:00", "17:00"]]
    assert plan["calendar"]["hours"]["sat"] == []
    fetched = await api.get(f"/v1/plans/{plan['id']}", headers=STAFF)
    assert fetched.json() == plan
    assert plan in await all_plans(api)


async def test_plans_are_listed_oldest_first_a_page_at_a_time(api: httpx.AsyncClient) -> None:
    created = [(await api.post("/v1/plans", json=plan_body(), headers=STAFF)).json()]
    created += [(await api.post("/v1/plans", json=plan_body(), headers=STAFF)).json()]
    created += [(await api.post("/v1/plans", json=plan_body(), headers=STAFF)).json()]

    in_pages_of_two = await all_plans(api, limit=2)
    in_one_page = await all_plans(api)
    first_page = await api.get("/v1/plans", headers=STAFF)

    assert in_pages_of_two == in_one_page
    ids = [plan["id"] for plan in in_one_page]
    assert len(ids) == len(set(ids))
    keys = [(datetime.fromisoformat(plan["created_at"]), plan["id"]) for plan in in_one_page]
    assert keys == sorted(keys)
    assert ids[-3:] == [plan["id"] for plan in created]
    assert len(first_page.json()["items"]) == min(len(ids), 50)  # the default page size


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": 0}, id="limit-zero"),
        pytest.param({"limit": 201}, id="limit-over-200"),
        pytest.param({"limit": "ten"}, id="limit-not-a-number"),
    ],
)
async def test_a_bad_page_size_is_refused(api: httpx.AsyncClient, params: dict[str, Any]) -> None:
    refused = await api.get("/v1/plans", params=params, headers=STAFF)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "query.limit" in [error["location"] for error in refused.json()["errors"]]


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="garbage"),
        pytest.param("WyJhIl0", id="wrong-shape"),  # ["a"]: one plain string, not a position
    ],
)
async def test_a_bad_cursor_is_a_422_invalid_cursor(api: httpx.AsyncClient, cursor: str) -> None:
    refused = await api.get("/v1/plans", params={"cursor": cursor}, headers=STAFF)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "https://aftercare.dev/problems/validation-failed"
    assert problem["errors"][0]["kind"] == "invalid_cursor"
    assert problem["errors"][0]["location"] == "query.cursor"


async def test_a_plan_without_calendar_is_24x7_with_the_default_at_risk_ratio(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post("/v1/plans", json=plan_body(), headers=STAFF)

    assert created.status_code == 201, created.text
    assert created.json()["calendar"] is None
    assert created.json()["at_risk_ratio"] == 0.75


def _without_p4() -> dict[str, Any]:
    partial = plan_body()["targets"]
    assert isinstance(partial, dict)
    return {priority: value for priority, value in partial.items() if priority != "P4"}


@pytest.mark.parametrize(
    ("overrides", "location"),
    [
        pytest.param({"targets": _without_p4()}, "body.targets.P4", id="missing-priority"),
        pytest.param(
            {"targets": targets(0, 60)}, "body.targets.P1.first_response_minutes", id="zero"
        ),
        pytest.param(
            {"targets": targets(-5, 60)}, "body.targets.P1.first_response_minutes", id="negative"
        ),
        pytest.param(
            {"targets": targets(61, 60)}, "body.targets.P1", id="response-after-resolution"
        ),
        pytest.param(
            {
                "targets": {
                    **targets(15, 60),
                    "P1": {"first_response_minutes": "15", "resolution_minutes": 60},
                }
            },
            "body.targets.P1.first_response_minutes",
            id="minutes-as-string",
        ),
        pytest.param(
            {
                "targets": {
                    **targets(15, 60),
                    "P1": {"first_response_minutes": 1.5, "resolution_minutes": 60},
                }
            },
            "body.targets.P1.first_response_minutes",
            id="fractional-minutes",
        ),
        pytest.param({"at_risk_ratio": 1.0}, "body.at_risk_ratio", id="ratio-one"),
        pytest.param({"at_risk_ratio": 0}, "body.at_risk_ratio", id="ratio-zero"),
        pytest.param({"name": "   "}, "body.name", id="blank-name"),
        pytest.param({"colour": "gold"}, "body.colour", id="unknown-field"),
        pytest.param({"calendar": ["mon"]}, "body.calendar", id="calendar-not-an-object"),
    ],
)
async def test_invalid_plans_are_refused_and_change_nothing(
    api: httpx.AsyncClient, app_sessions: Sessions, overrides: dict[str, Any], location: str
) -> None:
    before = await row_counts(app_sessions)

    refused = await api.post("/v1/plans", json=plan_body(**overrides), headers=STAFF)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert location in [error["location"] for error in refused.json()["errors"]]
    assert await row_counts(app_sessions) == before


@pytest.mark.parametrize(
    ("calendar", "named"),
    [
        pytest.param({"timezone": "Mars/Olympus"}, "Mars/Olympus", id="unknown-zone"),
        pytest.param({"hours": {"mon": [["09:00", "17:00"]]}}, "timezone", id="no-zone"),
        pytest.param(
            {"timezone": "UTC", "hours": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}},
            "overlap",
            id="overlapping-hours",
        ),
        pytest.param({"timezone": "UTC", "hours": {"funday": []}}, "funday", id="unknown-day"),
        pytest.param({"timezone": "UTC", "hours": {"mon": [["9am", "5pm"]]}}, "9am", id="bad-time"),
        pytest.param({"timezone": "UTC", "holidays": ["2026-02-30"]}, "2026-02-30", id="bad-date"),
        pytest.param({"timezone": "UTC", "holiday_country": "ZZ"}, "ZZ", id="unknown-country"),
        pytest.param({"timezone": "UTC", "weekends": "off"}, "weekends", id="unknown-field"),
    ],
)
async def test_calendar_errors_are_422_problems_naming_the_problem(
    api: httpx.AsyncClient, app_sessions: Sessions, calendar: dict[str, Any], named: str
) -> None:
    before = await row_counts(app_sessions)

    refused = await api.post("/v1/plans", json=plan_body(calendar=calendar), headers=STAFF)

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert named in problem["detail"]
    assert problem["type"] == "https://aftercare.dev/problems/validation-failed"
    assert problem["errors"][0]["location"] == "body.calendar"
    assert problem["errors"][0]["kind"] == "calendar"
    assert named in problem["errors"][0]["message"]
    assert await row_counts(app_sessions) == before


async def test_plans_are_staff_only(api: httpx.AsyncClient, app_sessions: Sessions) -> None:
    client_key = await seed_client_key(app_sessions, str(uuid.uuid4()))
    before = await row_counts(app_sessions)

    anonymous = await api.post("/v1/plans", json=plan_body())
    as_client = await api.post("/v1/plans", json=plan_body(), headers=client_key)
    listing = await api.get("/v1/plans", headers=client_key)

    assert anonymous.status_code == 401
    assert as_client.status_code == 403
    assert listing.status_code == 403
    assert await row_counts(app_sessions) == before


async def test_an_unknown_plan_is_404(api: httpx.AsyncClient) -> None:
    missing = await api.get(f"/v1/plans/{uuid.uuid4()}", headers=STAFF)

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "https://aftercare.dev/problems/not-found"


async def test_staff_assign_a_plan_to_a_client_not_seen_yet_and_replace_it(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    first = (await api.post("/v1/plans", json=plan_body(), headers=STAFF)).json()
    second = (await api.post("/v1/plans", json=plan_body(), headers=STAFF)).json()
    client_id = str(uuid.uuid4())

    assigned = await api.put(
        f"/v1/clients/{client_id}/plan", json={"plan_id": first["id"]}, headers=STAFF
    )
    replaced = await api.put(
        f"/v1/clients/{client_id}/plan", json={"plan_id": second["id"]}, headers=STAFF
    )
    fetched = await api.get(f"/v1/clients/{client_id}/plan", headers=STAFF)

    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["plan_id"] == first["id"]
    assert set(assigned.json()) == {"client_id", "plan_id", "assigned_at", "calendar_override"}
    assert replaced.json()["plan_id"] == second["id"]
    assert fetched.json() == replaced.json()
    # Each assignment is announced with the plan's calendar (notify's quiet hours use it).
    async with app_sessions() as session:
        payloads = (await session.scalars(select(outbox.c.payload).order_by(outbox.c.id))).all()
    announced = [
        event
        for event in (CloudEvent.from_json_bytes(bytes(payload)) for payload in payloads)
        if event.short_type == "sla.client_plan_assigned" and event.subject == client_id
    ]
    assert [event.data["plan_id"] for event in announced] == [first["id"], second["id"]]
    assert announced[0].clientid == client_id
    assert announced[0].data["calendar"] == first["calendar"]
    assert announced[0].data["resolution_on"] == "release"


async def test_a_plan_resolving_on_deploy_is_stored_and_announced_with_its_environment(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    body = plan_body(resolution_on="deploy", resolution_environment="eu-prod")
    created = await api.post("/v1/plans", json=body, headers=STAFF)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["resolution_on"], plan["resolution_environment"]) == ("deploy", "eu-prod")
    assert (await api.get(f"/v1/plans/{plan['id']}", headers=STAFF)).json() == plan
    client_id = str(uuid.uuid4())
    assigned = await api.put(
        f"/v1/clients/{client_id}/plan", json={"plan_id": plan["id"]}, headers=STAFF
    )
    assert assigned.status_code == 200, assigned.text
    async with app_sessions() as session:
        payloads = (await session.scalars(select(outbox.c.payload).order_by(outbox.c.id))).all()
    [announced] = [
        event.data
        for event in (CloudEvent.from_json_bytes(bytes(payload)) for payload in payloads)
        if event.short_type == "sla.client_plan_assigned" and event.subject == client_id
    ]
    assert announced["resolution_on"] == "deploy"
    assert announced["resolution_environment"] == "eu-prod"


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"resolution_on": "merge"}, "body.resolution_on"),
        ({"resolution_on": None}, "body.resolution_on"),
        ({"resolution_on": "deploy", "resolution_environment": ""}, "body.resolution_environment"),
        ({"resolution_environment": "Production"}, "body.resolution_environment"),
        ({"resolution_environment": "prod env"}, "body.resolution_environment"),
        ({"resolution_environment": "x" * 65}, "body.resolution_environment"),
    ],
)
async def test_a_bad_resolution_option_is_a_422_and_stores_nothing(
    api: httpx.AsyncClient, fields: dict[str, Any], location: str
) -> None:
    before = len(await all_plans(api))
    refused = await api.post("/v1/plans", json=plan_body(**fields), headers=STAFF)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "https://aftercare.dev/problems/validation-failed"
    assert [error["location"] for error in refused.json()["errors"]] == [location]
    assert len(await all_plans(api)) == before


async def test_assigning_an_unknown_plan_is_refused_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    client_id = str(uuid.uuid4())

    refused = await api.put(
        f"/v1/clients/{client_id}/plan", json={"plan_id": "no-such-plan"}, headers=STAFF
    )
    fetched = await api.get(f"/v1/clients/{client_id}/plan", headers=STAFF)

    assert refused.status_code == 422
    assert refused.json()["type"] == "https://aftercare.dev/problems/unknown-plan"
    assert "no-such-plan" in refused.json()["detail"]
    assert fetched.status_code == 404


async def test_a_client_key_reads_only_its_own_assignment(
    api: httpx.AsyncClient, app_sessions: Sessions
) -> None:
    plan = (await api.post("/v1/plans", json=plan_body(), headers=STAFF)).json()
    own, other = str(uuid.uuid4()), str(uuid.uuid4())
    for client_id in (own, other):
        await api.put(f"/v1/clients/{client_id}/plan", json={"plan_id": plan["id"]}, headers=STAFF)
    key = await seed_client_key(app_sessions, own)

    mine = await api.get(f"/v1/clients/{own}/plan", headers=key)
    theirs = await api.get(f"/v1/clients/{other}/plan", headers=key)
    assign = await api.put(f"/v1/clients/{own}/plan", json={"plan_id": plan["id"]}, headers=key)

    assert mine.status_code == 200
    assert theirs.status_code == 404
    assert assign.status_code == 403
