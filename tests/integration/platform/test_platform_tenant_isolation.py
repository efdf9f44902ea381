"""The tenant-isolation matrix, over real HTTP against the four live services.

Every route of every service's OpenAPI document has an answer in ``route_access.MATRIX``
(checked first: a new route without one fails). Then, with two clients A and B:

- every staff-only route called with a client key answers 403 problem+json;
- every route taking a client's ids, called with B's key on A's real resources, answers
  404 (403 where the matrix says so) and the answer holds none of A's ids, while A's own
  key reads the same resource (so the 404 is about B, not a wrong id);
- every route naming no client answers B without any of A's ids.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from aftercare_shared.events.catalog import PRIORITIES
from aftercare_shared.names import SERVICE_NAMES, ServiceName
from aftercare_shared.problems import PROBLEM_CONTENT_TYPE
from tests.integration.platform.live_stack import STAFF, LiveStack
from tests.integration.platform.route_access import MATRIX, Access, Entry, documented_routes

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(600)]

PROPAGATION_SECONDS = 60.0
"""How long an event may take to reach another service's read model."""
PERIOD = "2026-11"


@dataclass(frozen=True)
class Resources:
    """Client A's resources, by the path parameter that names them."""

    ids: dict[str, str]

    def fill(self, template: str) -> str:
        for name, value in self.ids.items():
            template = template.replace("{" + name + "}", value)
        return template

    def secrets_of_a(self) -> set[str]:
        return {value for name, value in self.ids.items() if name not in ("period", "product")}


async def _eventually(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    give_up_at = time.monotonic() + PROPAGATION_SECONDS
    while True:
        answer = await http.get(url, headers=headers)
        if answer.status_code == 200 or time.monotonic() > give_up_at:
            return answer
        await asyncio.sleep(0.25)


@pytest.fixture(scope="module")
async def resources_of_a(live: LiveStack) -> Resources:
    a = live.tenants[0]
    intake, releases, notify = (
        live.url(ServiceName.INTAKE),
        live.url(ServiceName.RELEASES),
        live.url(ServiceName.NOTIFY),
    )
    async with httpx.AsyncClient(timeout=15.0) as http:

        async def created(url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
            answer = await http.post(url, json=body, headers=headers)
            assert answer.status_code in (200, 201), answer.text
            return answer.json()

        endpoint = await created(
            f"{notify}/v1/endpoints",
            {
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["ticket.*"],
                "client_id": a.client_id,
            },
            STAFF,
        )
        report = await created(
            f"{intake}/v1/reports", {"title": "A's report", "severity": "low"}, a.headers
        )
        monitor = await created(
            f"{intake}/v1/monitors",
            {
                "client_id": a.client_id,
                "name": "A's backup",
                "slug": f"backup-{secrets.token_hex(3)}",
                "kind": "heartbeat",
                "schedule": {"type": "crontab", "value": "0 3 * * *"},
            },
            STAFF,
        )
        product = f"shop-{secrets.token_hex(3)}"
        await created(f"{releases}/v1/products", {"name": product, "ecosystem": "npm"}, STAFF)
        release = await created(
            f"{releases}/v1/releases",
            {"product": product, "version": "1.0.0", "kind": "bugfix"},
            STAFF,
        )
        plan = await created(
            f"{live.url(ServiceName.SLA)}/v1/plans",
            {
                "name": "A's plan",
                "targets": {
                    priority: {"first_response_minutes": 60, "resolution_minutes": 480}
                    for priority in PRIORITIES
                },
            },
            STAFF,
        )
        assigned = await http.put(
            f"{live.url(ServiceName.SLA)}/v1/clients/{a.client_id}/plan",
            json={"plan_id": plan["id"]},
            headers=STAFF,
        )
        assert assigned.status_code == 200, assigned.text
        deployment = await created(
            f"{releases}/v1/deployments",
            {
                "client_id": a.client_id,
                "environment": "production",
                "product": product,
                "version": "1.0.0",
            },
            a.headers,
        )
        # ticket.created reaches notify over Kafka and becomes a delivery to A's endpoint.
        give_up_at = time.monotonic() + PROPAGATION_SECONDS
        deliveries: list[dict[str, Any]] = []
        while not deliveries and time.monotonic() < give_up_at:
            answer = await http.get(
                f"{notify}/v1/endpoints/{endpoint['id']}/deliveries", headers=STAFF
            )
            deliveries = answer.json()["items"]
            await asyncio.sleep(0.25)
        assert deliveries, "no delivery of A's ticket to A's endpoint"
    return Resources(
        {
            "client_id": a.client_id,
            "ticket_id": report["ticket_id"],
            "monitor_id": monitor["id"],
            "endpoint_id": endpoint["id"],
            "delivery_id": deliveries[0]["id"],
            "release_id": release["id"],
            "deployment_id": deployment["id"],
            "product": product,
            "name": product,
            "period": PERIOD,
        }
    )


@pytest.mark.parametrize("service", SERVICE_NAMES, ids=str)
async def test_every_documented_route_has_an_answer_in_the_matrix(
    live: LiveStack, service: ServiceName
) -> None:
    documented = documented_routes(await live.openapi(service))
    assert documented - MATRIX[service].keys() == set(), "routes without an answer in the matrix"
    assert MATRIX[service].keys() - documented == set(), "matrix rows for routes that are gone"


async def _call(
    http: httpx.AsyncClient,
    base_url: str,
    route: str,
    entry: Entry,
    resources: Resources,
    headers: dict[str, str],
) -> httpx.Response:
    method, path = route.split(" ", 1)
    url = base_url + resources.fill(path) + entry.query
    if method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return await http.request(method, url, headers=headers)
    body = entry.body if entry.body is not None else {}
    content = resources.fill(orjson.dumps(body).decode()).encode()
    return await http.request(
        method, url, content=content, headers={**headers, "Content-Type": entry.content_type}
    )


@pytest.mark.parametrize("service", SERVICE_NAMES, ids=str)
async def test_a_client_key_never_reaches_another_clients_data(
    live: LiveStack, resources_of_a: Resources, service: ServiceName
) -> None:
    a, b = live.tenants
    base_url = live.url(service)
    wrong: dict[str, str] = {}
    checked = 0
    async with httpx.AsyncClient(timeout=15.0) as http:
        for route, entry in MATRIX[service].items():
            if entry.access is Access.NO_CLIENT_KEY or route == "GET /v1/stream":
                continue
            checked += 1
            if entry.access is Access.STAFF_ONLY:
                answer = await _call(http, base_url, route, entry, resources_of_a, a.headers)
                expected = 403
            elif entry.access is Access.OWN_DATA:
                answer = await _call(http, base_url, route, entry, resources_of_a, b.headers)
                # Any success (200, or 201 for B's own report) is fine: only B's data.
                expected = answer.status_code if 200 <= answer.status_code < 300 else 200
            else:
                if route.startswith("GET ") and "{release_id}" not in route:
                    # A reads its own resource: the id is real, and visible to its owner.
                    # (A client sees a release only once published with one of its
                    # tickets; A's release here is a draft, so only B's side is checked.)
                    own = await _eventually(
                        http, base_url + resources_of_a.fill(route[4:]) + entry.query, a.headers
                    )
                    if own.status_code != 200:
                        wrong[route] = f"A's own key got {own.status_code}: {own.text[:200]}"
                        continue
                answer = await _call(http, base_url, route, entry, resources_of_a, b.headers)
                expected = 403 if entry.access is Access.FORBIDDEN_OTHER_TENANT else 404
            # An id the caller sent may come back (a problem's `instance`); no other may.
            sent = str(answer.request.url) + answer.request.content.decode()
            leaked = {
                value
                for value in resources_of_a.secrets_of_a()
                if value in answer.text and value not in sent
            }
            if answer.status_code != expected or leaked:
                wrong[route] = (
                    f"{answer.status_code} (expected {expected}), leaked {leaked}: "
                    + answer.text[:200]
                )
            elif (
                answer.status_code >= 400
                and answer.headers.get("content-type") != PROBLEM_CONTENT_TYPE
            ):
                wrong[route] = f"{answer.status_code} as {answer.headers.get('content-type')}"
    assert wrong == {}, "\n".join(f"{route}: {why}" for route, why in wrong.items())
    assert checked > 0
