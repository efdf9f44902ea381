"""The whole walking skeleton as real processes over real HTTP and real Kafka.

report → ticket (intake) → SLA clocks (sla) → release published (releases) → ticket
resolved (intake) → resolution clock met (sla), with every step delivered as a signed
webhook (notify) and the ``aftercare.tickets`` records readable by the official
CloudEvents SDK.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

from aftercare_shared.observability.tracing import parse_trace_id
from aftercare_shared.topics import TICKETS
from devkit.databases import (
    admin_token,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.isolated_services import isolated_services
from devkit.service_processes import UvicornProcess, service_process
from devkit.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "sla", "releases", "notify")
STAFF = {"Authorization": f"Bearer {admin_token()}"}
FLOW_DEADLINE_SECONDS = 60.0
CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE_ID}-00f067aa0ba902b7-01"

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, deadline: float = FLOW_DEADLINE_SECONDS
) -> T:
    """Poll ``probe`` until it returns something truthy, or fail naming ``what``."""
    give_up_at = time.monotonic() + deadline
    while time.monotonic() < give_up_at:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[dict[str, UvicornProcess]]:
    isolated = await isolated_services(SERVICES, prefix="e2e")
    database_url = isolated.database_url
    env = {
        **isolated.settings(),
        "AFTERCARE_OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
        "NOTIFY_SSRF_ALLOWLIST": "127.0.0.0/8,::1/128",
        "NOTIFY_RETRY_SCHEDULE": "0,0.5,1,2",
    }
    processes = {name: service_process(name, tmp_path / f"{name}.log") for name in SERVICES}
    try:
        for process in processes.values():
            process.start(env)
        await asyncio.gather(*(process.wait_ready() for process in processes.values()))
        yield processes
    finally:
        exit_codes = {name: process.stop() for name, process in processes.items()}
        await drop_database(database_url)
    # Graceful shutdown is part of the contract: SIGTERM must end each service cleanly.
    # uvicorn re-raises SIGTERM once it has shut down cleanly, so that is a clean exit too.
    assert all(code in (0, -signal.SIGTERM) for code in exit_codes.values()), exit_codes


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hooks = WebhookReceiver(verify_signatures=True)
    await hooks.start()
    yield hooks
    await hooks.stop()


async def read_ticket_events(ticket_id: str, stop_after: set[str]) -> list[Any]:
    """Consume ``aftercare.tickets`` from the start and parse records with the CloudEvents SDK."""
    consumer = AIOKafkaConsumer(
        TICKETS,
        bootstrap_servers=kafka_bootstrap_servers(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        give_up_at = time.monotonic() + FLOW_DEADLINE_SECONDS
        while time.monotonic() < give_up_at:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key is None or record.key.decode() != ticket_id:
                        continue
                    message = KafkaMessage(
                        headers={name: value for name, value in record.headers},
                        key=record.key,
                        value=record.value,
                    )
                    found.append(from_kafka_event(message))
            if stop_after <= {event.get_type() for event in found}:
                return found
    finally:
        await consumer.stop()
    raise AssertionError(f"ticket events seen: {[event.get_type() for event in found]}")


async def test_report_to_release_flow(
    stack: dict[str, UvicornProcess], receiver: WebhookReceiver
) -> None:
    intake, sla, releases, notify = (stack[name].url for name in SERVICES)
    async with httpx.AsyncClient(timeout=10.0) as http:
        # Ops subscribe a webhook endpoint to everything this flow emits.
        endpoint = await http.post(
            f"{notify}/v1/endpoints",
            headers=STAFF,
            json={
                "url": receiver.url,
                "channel": "webhook",
                "event_types": ["ticket.created", "ticket.resolved", "sla.*", "release.published"],
            },
        )
        assert endpoint.status_code == 201, endpoint.text
        receiver.secret = endpoint.json()["secret"]
        assert receiver.secret.startswith("whsec_")

        # Staff onboard a client with a plan and give its system an API key.
        client = await http.post(f"{intake}/v1/clients", headers=STAFF, json={"name": "Acme"})
        client_id = client.json()["id"]
        key = (await http.post(f"{intake}/v1/clients/{client_id}/api-keys", headers=STAFF)).json()
        targets = {
            priority: {"first_response_minutes": 30 * n, "resolution_minutes": 240 * n}
            for n, priority in enumerate(("P1", "P2", "P3", "P4"), start=1)
        }
        plan = await http.post(
            f"{sla}/v1/plans", headers=STAFF, json={"name": "Gold", "targets": targets}
        )
        assert plan.status_code == 201, plan.text
        assigned = await http.put(
            f"{sla}/v1/clients/{client_id}/plan", headers=STAFF, json={"plan_id": plan.json()["id"]}
        )
        assert assigned.status_code == 200, assigned.text

        # The client's system reports a critical bug, inside a trace of its own.
        client_auth = {"Authorization": f"Bearer {key['key']}"}
        report = await http.post(
            f"{intake}/v1/reports",
            headers={**client_auth, "traceparent": CLIENT_TRACEPARENT},
            json={"title": "Payments fail at checkout", "severity": "critical"},
        )
        assert report.status_code == 201, report.text
        ticket_id = report.json()["ticket_id"]
        assert report.json()["priority"] == "P1"

        # sla starts both clocks from the plan (P1: 30 min first response, 4 h resolution).
        async def clocks_started() -> dict[str, Any] | None:
            answer = await http.get(f"{sla}/v1/tickets/{ticket_id}/sla", headers=client_auth)
            body: dict[str, Any] = answer.json()
            return body if answer.status_code == 200 and len(body.get("clocks", [])) == 2 else None

        sla_view = await eventually(clocks_started, "SLA clocks to start")
        clocks = {clock["metric"]: clock for clock in sla_view["clocks"]}
        assert clocks["first_response"]["state"] == "running"
        assert clocks["resolution"]["state"] == "running"

        # Staff ship the fix.
        release = await http.post(
            f"{releases}/v1/releases",
            headers=STAFF,
            json={
                "product": "acme-shop",
                "version": "2.4.1",
                "kind": "bugfix",
                "notes": "Fix checkout payments",
                "ticket_ids": [ticket_id],
            },
        )
        assert release.status_code == 201, release.text
        assert release.json()["status"] == "draft"
        release_id = release.json()["id"]

        # releases learns the ticket's title from aftercare.tickets before it publishes, so
        # the changelog the webhook carries names the ticket.
        async def ticket_known() -> bool:
            answer = await http.get(f"{releases}/v1/releases/{release_id}", headers=STAFF)
            unknown: list[str] = answer.json()["unknown_ticket_ids"]
            return unknown == []

        await eventually(ticket_known, "releases to know the ticket")
        published = await http.post(f"{releases}/v1/releases/{release_id}/publish", headers=STAFF)
        again = await http.post(f"{releases}/v1/releases/{release_id}/publish", headers=STAFF)
        assert published.json()["status"] == "published"
        assert again.status_code == 200

        # intake resolves the ticket the release lists; sla marks the resolution clock met.
        async def ticket_resolved() -> dict[str, Any] | None:
            body: dict[str, Any] = (
                await http.get(f"{intake}/v1/tickets/{ticket_id}", headers=client_auth)
            ).json()
            return body if body["status"] == "resolved" else None

        ticket = await eventually(ticket_resolved, "the release to resolve the ticket")
        assert ticket["resolved_by_release_id"] == release_id

        async def resolution_met() -> dict[str, Any] | None:
            body: dict[str, Any] = (
                await http.get(f"{sla}/v1/tickets/{ticket_id}/sla", headers=STAFF)
            ).json()
            states = {clock["metric"]: clock["state"] for clock in body["clocks"]}
            return body if states.get("resolution") == "met" else None

        await eventually(resolution_met, "the resolution clock to be met")

    # Every step reached the ops endpoint as a verified Standard Webhook. The broker is
    # shared with other tests, so only this flow's aggregates count.
    flow_subjects = {ticket_id, release_id}
    wanted = {
        "aftercare.ticket.created.v1",
        "aftercare.sla.clock_started.v1",
        "aftercare.release.published.v1",
        "aftercare.ticket.resolved.v1",
        "aftercare.sla.met.v1",
    }

    def flow_deliveries() -> list[dict[str, Any]]:
        return [item.event for item in receiver.received if item.event["subject"] in flow_subjects]

    async def all_delivered() -> bool:
        return wanted <= {event["type"] for event in flow_deliveries()}

    await eventually(all_delivered, f"webhooks {wanted}; got {receiver.types()}")
    assert receiver.rejected == []
    for delivery in receiver.received:
        assert delivery.webhook_id == delivery.event["id"]  # dedupe key = CloudEvent id
    published_hooks = [
        event for event in flow_deliveries() if event["type"] == "aftercare.release.published.v1"
    ]
    assert len(published_hooks) == 1  # published twice, announced once
    assert published_hooks[0]["data"]["ticket_ids"] == [ticket_id]
    # The integrator's webhook carries the Keep a Changelog changelog and its Markdown.
    hook = published_hooks[0]["data"]
    assert (hook["product"], hook["version"], hook["kind"]) == ("acme-shop", "2.4.1", "bugfix")
    assert hook["changelog"] == [
        {
            "change_type": "fixed",
            "entries": [{"ticket_id": ticket_id, "title": "Payments fail at checkout"}],
        }
    ]
    assert "## [2.4.1] - " in hook["changelog_markdown"]
    assert f"Payments fail at checkout (`{ticket_id}`)" in hook["changelog_markdown"]

    # Integrators reading Kafka get standard CloudEvents.
    ticket_events = await read_ticket_events(
        ticket_id, {"aftercare.ticket.created.v1", "aftercare.ticket.resolved.v1"}
    )
    created = next(e for e in ticket_events if e.get_type() == "aftercare.ticket.created.v1")
    assert created.get_source() == "/aftercare/intake"
    assert created.get_subject() == ticket_id
    assert created.get_extension("clientid") == client_id
    assert created.get_data()["priority"] == "P1"

    # The client's trace went from its HTTP request into intake's event, through Kafka into
    # sla, and into the event sla emitted because of it.
    assert parse_trace_id(created.get_extension("traceparent")) == CLIENT_TRACE_ID
    clock_started = next(
        event for event in flow_deliveries() if event["type"] == "aftercare.sla.clock_started.v1"
    )
    assert parse_trace_id(clock_started["traceparent"]) == CLIENT_TRACE_ID


async def test_every_service_serves_health_metrics_and_openapi(
    stack: dict[str, UvicornProcess],
) -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        for name, process in stack.items():
            assert (await http.get(f"{process.url}/healthz")).json() == {"status": "ok"}
            ready = (await http.get(f"{process.url}/readyz")).json()
            assert ready["checks"] == {"database": "ok", "kafka": "ok"}, name
            openapi = (await http.get(f"{process.url}/openapi.json")).json()
            assert openapi["openapi"].startswith("3.1"), name
            unauthenticated = await http.get(f"{process.url}{_first_v1_get(openapi)}")
            assert unauthenticated.status_code == 401, name
            assert unauthenticated.headers["content-type"] == "application/problem+json"
            metrics = (await http.get(f"{process.url}/metrics")).text
            assert (
                f'aftercare_http_requests_total{{method="GET",route="/healthz",service="{name}"'
                in metrics
            )


def _first_v1_get(openapi: dict[str, Any]) -> str:
    """A GET route under /v1 with its path parameters filled in (auth comes first)."""
    for path, operations in openapi["paths"].items():
        if path.startswith("/v1/") and "get" in operations:
            return str(path).replace("{", "").replace("}", "")
    raise AssertionError("no GET route under /v1")
