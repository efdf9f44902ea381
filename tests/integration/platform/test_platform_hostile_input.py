"""Hostile and odd input, one suite for all four services: a clear 4xx problem, nothing stored.

Each service is called on a route that stores something (staff credential), with bodies a
client should never send: wrong content types, invalid UTF-8, deeply nested JSON, numbers
too large to parse, NUL characters in strings, bodies that are not objects, and oversize
headers (431, ``AFTERCARE_MAX_HEADER_BYTES``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_shared.events.catalog import PRIORITIES
from aftercare_shared.names import SERVICE_NAMES, ServiceName, schema_of
from devkit.databases import admin_token, create_migrated_database, drop_database
from tests.integration.platform.service_apps import build_app
from tests.support.asgi import serving

STAFF = {"Authorization": f"Bearer {admin_token()}"}


@dataclass(frozen=True)
class StoringRoute:
    path: str
    table: str
    body: Callable[[str], dict[str, Any]]
    """A valid body around one free-text value (where hostile text goes)."""


ROUTES: dict[ServiceName, StoringRoute] = {
    ServiceName.INTAKE: StoringRoute("/v1/clients", "clients", lambda text: {"name": text}),
    ServiceName.SLA: StoringRoute(
        "/v1/plans",
        "plans",
        lambda text: {
            "name": text,
            "targets": {
                priority: {"first_response_minutes": 60, "resolution_minutes": 480}
                for priority in PRIORITIES
            },
        },
    ),
    ServiceName.RELEASES: StoringRoute(
        "/v1/products", "products", lambda text: {"name": "shop", "ecosystem": text}
    ),
    ServiceName.NOTIFY: StoringRoute(
        "/v1/endpoints",
        "endpoints",
        lambda text: {
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["ticket.*"],
            "description": text,
        },
    ),
}

JSON = "application/json"
DEPTH = 100_000


def _hostile_requests(route: StoringRoute) -> dict[str, tuple[bytes, str]]:
    valid = orjson.dumps(route.body("fine"))
    return {
        "text-plain": (valid, "text/plain"),
        "form-encoded": (b"name=fine", "application/x-www-form-urlencoded"),
        "no-content-type": (valid, ""),
        "invalid-utf8": (valid.replace(b"fine", b"\xff\xfe\xfd"), JSON),
        "truncated-json": (valid[:-3], JSON),
        "empty-body": (b"", JSON),
        "not-an-object": (b"[1, 2, 3]", JSON),
        "json-null": (b"null", JSON),
        "deeply-nested": (
            valid[:-1] + b', "nested": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
            JSON,
        ),
        "huge-integer": (valid[:-1] + b', "n": ' + b"9" * 5_000 + b"}", JSON),
        "huge-float": (valid[:-1] + b', "n": 1e999999}', JSON),
        "nul-in-string": (orjson.dumps(route.body("a\u0000b")), JSON),
    }


@pytest.fixture(params=SERVICE_NAMES, ids=str)
async def service_api(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[ServiceName, httpx.AsyncClient, str]]:
    service: ServiceName = request.param
    url = await create_migrated_database(service, prefix="hostile")
    try:
        async with serving(build_app(service, url), base_url=f"http://{service}") as api:
            yield service, api, url
    finally:
        await drop_database(url)


async def _rows(database_url: str, service: ServiceName, table: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = sa.text(f"SELECT count(*) FROM {schema_of(service)}.{table}")  # noqa: S608 - test-chosen names
            return int(await connection.scalar(query) or 0)
    finally:
        await engine.dispose()


async def test_hostile_bodies_get_a_clear_4xx_problem_and_store_nothing(
    service_api: tuple[ServiceName, httpx.AsyncClient, str],
) -> None:
    service, api, url = service_api
    route = ROUTES[service]
    answers: dict[str, httpx.Response] = {}
    for name, (body, content_type) in _hostile_requests(route).items():
        headers = {**STAFF, **({"Content-Type": content_type} if content_type else {})}
        answers[name] = await api.post(route.path, content=body, headers=headers)
    wrong = {
        name: (answer.status_code, answer.headers.get("content-type"), answer.text[:200])
        for name, answer in answers.items()
        if not 400 <= answer.status_code < 500
        or answer.headers.get("content-type") != "application/problem+json"
    }
    assert wrong == {}, wrong
    assert await _rows(url, service, route.table) == 0
    # The same route still takes a proper body: the refusals were about the input.
    accepted = await api.post(route.path, json=route.body("fine"), headers=STAFF)
    assert accepted.status_code == 201, accepted.text


OVERSIZE_HEADERS: dict[str, dict[str, str]] = {
    # One huge credential, and many headers each small but too many together.
    "one-huge-header": {"Authorization": "Bearer ast_" + "A" * 64_000},
    "many-headers": {f"X-Filler-{n}": "v" * 1_000 for n in range(40)},
}


@pytest.mark.parametrize("headers", OVERSIZE_HEADERS.values(), ids=OVERSIZE_HEADERS.keys())
async def test_oversize_headers_get_a_431_problem_and_store_nothing(
    service_api: tuple[ServiceName, httpx.AsyncClient, str], headers: dict[str, str]
) -> None:
    # (The live-process form, through uvicorn's own parser: test_platform_fuzz.py.)
    service, api, url = service_api
    route = ROUTES[service]
    answer = await api.post(route.path, json=route.body("fine"), headers={**STAFF, **headers})
    assert answer.status_code == 431, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 431
    assert await _rows(url, service, route.table) == 0


async def test_a_method_the_resource_lacks_gets_405_naming_every_method_it_has(
    service_api: tuple[ServiceName, httpx.AsyncClient, str],
) -> None:
    # FastAPI keeps a route per method; Starlette's 405 named only the first route's (a
    # collection answered "Allow: POST" though GET lists it). RFC 9110: all of them.
    service, api, url = service_api
    route = ROUTES[service]
    documented = (await api.get("/openapi.json")).json()["paths"][route.path]
    expected = {method.upper() for method in documented} | {"HEAD"}
    assert {"GET", "POST"} <= expected, "each storing route is also a listed collection"

    answer = await api.put(route.path, json=route.body("fine"), headers=STAFF)

    assert answer.status_code == 405, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert set(answer.headers["allow"].split(", ")) == expected
    assert await _rows(url, service, route.table) == 0
