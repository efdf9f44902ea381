"""The official ``sentry-sdk`` for Python, through its own transport, against intake running
as real uvicorn processes: change the DSN, nothing else.

Exceptions, messages, an SDK fingerprint, a release and environment; br (the SDK's default
when brotli is installed), gzip and uncompressed bodies; the SDK backing off on intake's
rate-limit answer; and a storm of one fingerprint over two intake replicas counted exactly.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
from prometheus_client.parser import text_string_to_metric_families

from devkit.databases import (
    admin_token,
    create_migrated_database,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.sentry_payloads import envelope_of
from devkit.service_processes import UvicornProcess, service_process
from tests.integration.intake.intake_support import STAFF, IngestClient, ingest_client, sentry_event
from tests.integration.intake.sentry_client import sentry

pytestmark = pytest.mark.integration


def _environment(database_url: str, **settings: str) -> dict[str, str]:
    return {
        "AFTERCARE_DATABASE_URL": database_url,
        "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
        "AFTERCARE_ADMIN_TOKEN": admin_token(),
        "AFTERCARE_ENVIRONMENT": "test",
        "AFTERCARE_LOG_LEVEL": "WARNING",
        "INTAKE_CONSUMER_GROUP": f"test-intake-sdk-{secrets.token_hex(4)}",
        **settings,
    }


async def _start(processes: list[UvicornProcess], env: dict[str, str]) -> None:
    for process in processes:
        process.start(env)
    await asyncio.gather(*(process.wait_ready() for process in processes))


@pytest.fixture(scope="module")
async def replicas(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[UvicornProcess]]:
    """Two intake replicas on one database, limits out of the way."""
    database_url = await create_migrated_database("intake", prefix="sdk")
    logs = tmp_path_factory.mktemp("intake-sdk")
    processes = [service_process("intake", logs / f"intake-{n}.log") for n in (1, 2)]
    env = _environment(
        database_url,
        INTAKE_REPORT_RATE_BURST="100000",
        INTAKE_PROJECT_RATE_BURST="100000",
    )
    try:
        await _start(processes, env)
        yield processes
    finally:
        for process in processes:
            process.stop()
        await drop_database(database_url)


@pytest.fixture
async def api(replicas: list[UvicornProcess]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=replicas[0].url, timeout=30) as client:
        yield client


def _price_for(sku: str) -> float:
    prices = {"sku-1": 9.5}
    return prices[sku]


async def _tickets(api: httpx.AsyncClient, client_id: str) -> list[dict[str, Any]]:
    answer = await api.get("/v1/tickets", params={"client_id": client_id}, headers=STAFF)
    assert answer.status_code == 200, answer.text
    tickets: list[dict[str, Any]] = answer.json()["items"]
    return tickets


async def _occurrences(api: httpx.AsyncClient, ticket_id: str) -> list[dict[str, Any]]:
    answer = await api.get(f"/v1/tickets/{ticket_id}/occurrences", headers=STAFF)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_the_sdk_reports_exceptions_messages_and_fingerprints_into_tickets(
    api: httpx.AsyncClient,
) -> None:
    ingest = await ingest_client(api, "Shop")
    with sentry(ingest.dsn, release="shop@1.4.0", environment="production") as client:
        assert client.transport is not None
        for sku in ("sku-7", "sku-8"):  # the same bug, reached from two lines
            try:
                _price_for(sku)
            except KeyError:
                sentry_sdk.capture_exception()
        try:
            _price_for("sku-9")
        except KeyError:
            sentry_sdk.capture_exception()
        sentry_sdk.capture_message("Payment 4711 failed", level="warning")
        sentry_sdk.capture_message("Payment 93 failed", level="warning")
        for error in (TimeoutError("gateway slow"), ConnectionRefusedError("gateway down")):
            with sentry_sdk.new_scope() as scope:
                scope.fingerprint = ["payment-gateway"]
                scope.set_tag("gateway", "acme-pay")
                scope.set_user({"id": "42"})
                sentry_sdk.capture_exception(error)

    tickets = {ticket["title"]: ticket for ticket in await _tickets(api, ingest.client_id)}
    assert set(tickets) == {
        "KeyError: 'sku-7'",
        "Payment 4711 failed",
        "TimeoutError: gateway slow",
    }
    key_error = tickets["KeyError: 'sku-7'"]
    assert (key_error["occurrences"], key_error["severity"], key_error["priority"]) == (
        3,
        "high",
        "P2",
    )
    assert key_error["kind"] == "bug"  # the exception type groups; the kind is the closed set
    assert key_error["platform"] == "python"
    assert key_error["releases"][0]["name"] == "shop@1.4.0"
    assert key_error["releases"][0]["occurrences"] == 3
    assert key_error["environments"][0]["name"] == "production"

    message = tickets["Payment 4711 failed"]
    assert (message["occurrences"], message["severity"], message["priority"]) == (2, "medium", "P3")
    gateway = tickets["TimeoutError: gateway slow"]
    assert gateway["occurrences"] == 2
    assert gateway["fingerprint"] == "payment-gateway"

    samples = await _occurrences(api, key_error["id"])
    assert [sample["number"] for sample in samples] == [3, 2, 1]
    latest = samples[0]
    assert latest["title"] == "KeyError: 'sku-9'"
    assert latest["release"] == "shop@1.4.0"
    assert latest["project_id"] == ingest.project_id
    assert latest["details"]["sdk"]["name"] == "sentry.python"
    frames = latest["details"]["exceptions"][0]["frames"]
    assert frames[-1]["function"] == "_price_for"
    assert frames[-1]["in_app"] is True
    assert frames[-1]["module"] == __name__
    gateway_sample = (await _occurrences(api, gateway["id"]))[0]
    assert gateway_sample["details"]["tags"]["gateway"] == "acme-pay"
    assert gateway_sample["details"]["user"] == {"id": "42"}
    assert gateway_sample["details"]["fingerprint"] == ["payment-gateway"]


@pytest.mark.parametrize(
    ("experiments", "algorithm"),
    [
        ({}, "br"),
        ({"transport_compression_algo": "gzip"}, "gzip"),
        ({"transport_compression_level": 0}, None),
    ],
    ids=["br", "gzip", "uncompressed"],
)
async def test_each_body_encoding_the_sdk_sends_is_read(
    api: httpx.AsyncClient, experiments: dict[str, Any], algorithm: str | None
) -> None:
    ingest = await ingest_client(api, f"Enc-{algorithm}")
    with sentry(ingest.dsn, _experiments=experiments) as client:
        transport: Any = client.transport
        compresses = transport._compression_level != 0 and transport._compression_algo is not None
        assert (transport._compression_algo if compresses else None) == algorithm
        sentry_sdk.capture_message(f"encoded with {algorithm}")
    tickets = await _tickets(api, ingest.client_id)
    assert [ticket["title"] for ticket in tickets] == [f"encoded with {algorithm}"]


def _requests_answered(exposition: str, status: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "aftercare_http_requests_total"
        and sample.labels.get("route") == "/api/{project_id}/envelope/"
        and sample.labels.get("status") == status
    )


async def test_the_sdk_obeys_intakes_rate_limit_and_drops_instead_of_retrying(
    tmp_path: Path,
) -> None:
    database_url = await create_migrated_database("intake", prefix="sdkrl")
    process = service_process("intake", tmp_path / "intake.log")
    env = _environment(
        database_url, INTAKE_PROJECT_RATE_PER_SECOND="0.01", INTAKE_PROJECT_RATE_BURST="5"
    )
    try:
        await _start([process], env)
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as api:
            ingest = await ingest_client(api, "Limited")
            with sentry(ingest.dsn) as client:
                for number in range(20):
                    sentry_sdk.capture_message(f"burst {number}")
                client.flush(timeout=15)
                transport: Any = client.transport
                # "<seconds>::project": every category is off for those seconds.
                assert None in transport._disabled_until
            metrics = (await api.get("/metrics")).text
            tickets = await _tickets(api, ingest.client_id)
    finally:
        process.stop()
        await drop_database(database_url)
    assert _requests_answered(metrics, "200") == 5
    # One refusal, then the SDK stopped sending: the other 14 events were dropped by it.
    assert _requests_answered(metrics, "429") == 1
    assert sum(ticket["occurrences"] for ticket in tickets) == 5


async def test_a_storm_over_two_replicas_makes_one_ticket_with_the_exact_count(
    replicas: list[UvicornProcess], api: httpx.AsyncClient
) -> None:
    ingest: IngestClient = await ingest_client(api, "Storm")
    reports = 240
    gate = asyncio.Semaphore(24)

    async def send(http: httpx.AsyncClient, number: int) -> int:
        replica = replicas[number % 2]
        async with gate:
            answer = await http.post(
                f"{replica.url}/api/{ingest.project_id}/envelope/",
                content=envelope_of(sentry_event(release=f"shop@1.{number % 3}.0")),
                headers=ingest.auth,
            )
        return answer.status_code

    async with httpx.AsyncClient(timeout=60) as http:
        codes = await asyncio.gather(*(send(http, number) for number in range(reports)))
    acknowledged = codes.count(200)
    assert acknowledged == reports, sorted(set(codes))

    tickets = await _tickets(api, ingest.client_id)
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket["occurrences"] == acknowledged
    assert sum(release["occurrences"] for release in ticket["releases"]) == acknowledged
    assert {release["name"]: release["occurrences"] for release in ticket["releases"]} == {
        "shop@1.0.0": 80,
        "shop@1.1.0": 80,
        "shop@1.2.0": 80,
    }
    assert ticket["fingerprints"][0]["occurrences"] == acknowledged
    # The details kept stay bounded: the first and the latest 100.
    numbers: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (
            await api.get(f"/v1/tickets/{ticket['id']}/occurrences", params=params, headers=STAFF)
        ).json()
        numbers += [item["number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(numbers) == [1, *range(acknowledged - 99, acknowledged + 1)]
