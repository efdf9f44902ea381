"""Sentry Crons through the official ``sentry-sdk``: ``capture_checkin`` and the ``monitor``
decorator, sent by the SDK's own transport to intake running as a real uvicorn process.
A ``monitor_config`` upserts the monitor for the DSN key's client."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sentry_sdk
from sentry_sdk.crons import MonitorStatus, capture_checkin

from devkit.databases import (
    admin_token,
    create_migrated_database,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.service_processes import service_process
from tests.integration.intake.intake_support import STAFF, ingest_client
from tests.integration.intake.sentry_client import sentry

if TYPE_CHECKING:
    from sentry_sdk._types import MonitorConfig

pytestmark = pytest.mark.integration

BERLIN_NIGHTLY: MonitorConfig = {
    "schedule": {"type": "crontab", "value": "0 3 * * *"},
    "timezone": "Europe/Berlin",
    "checkin_margin": 5,
    "max_runtime": 20,
    "failure_issue_threshold": 1,
    "recovery_threshold": 2,
}


@pytest.fixture(scope="module")
async def intake_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    database_url = await create_migrated_database("intake", prefix="crons")
    process = service_process("intake", tmp_path_factory.mktemp("intake-crons") / "intake.log")
    try:
        process.start(
            {
                "AFTERCARE_DATABASE_URL": database_url,
                "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
                "AFTERCARE_ADMIN_TOKEN": admin_token(),
                "AFTERCARE_ENVIRONMENT": "test",
                "AFTERCARE_LOG_LEVEL": "WARNING",
                "INTAKE_CONSUMER_GROUP": f"test-intake-crons-{secrets.token_hex(4)}",
            }
        )
        await process.wait_ready()
        yield process.url
    finally:
        process.stop()
        await drop_database(database_url)


@pytest.fixture
async def api(intake_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=intake_url, timeout=30) as client:
        yield client


async def _monitor_by_slug(api: httpx.AsyncClient, client_id: str, slug: str) -> dict[str, Any]:
    listed = await api.get("/v1/monitors", params={"client_id": client_id}, headers=STAFF)
    assert listed.status_code == 200, listed.text
    found = [item for item in listed.json()["items"] if item["slug"] == slug]
    assert len(found) == 1, listed.json()
    monitor: dict[str, Any] = found[0]
    return monitor


async def test_capture_checkin_with_a_monitor_config_upserts_and_checks_in(
    api: httpx.AsyncClient,
) -> None:
    ingest = await ingest_client(api, "Backups")
    with sentry(ingest.dsn, environment="production"):
        check_in_id = capture_checkin(
            monitor_slug="db-backup",
            status=MonitorStatus.IN_PROGRESS,
            monitor_config=BERLIN_NIGHTLY,
        )
        capture_checkin(
            monitor_slug="db-backup",
            check_in_id=check_in_id,
            status=MonitorStatus.OK,
            duration=12.5,
        )
    monitor = await _monitor_by_slug(api, ingest.client_id, "db-backup")
    assert monitor["kind"] == "heartbeat"
    assert monitor["schedule"] == {"type": "crontab", "value": "0 3 * * *", "unit": None}
    assert monitor["timezone"] == "Europe/Berlin"
    assert monitor["checkin_margin_minutes"] == 5
    assert monitor["max_runtime_minutes"] == 20
    assert monitor["recovery_threshold"] == 2
    assert monitor["environment"] == "production"
    assert monitor["state"] == "ok"
    assert [
        (row["status"], row["source"], row["check_in_id"], row["duration_ms"])
        for row in monitor["last_check_ins"]
    ] == [
        ("ok", "sentry", check_in_id, 12500),
        ("in_progress", "sentry", check_in_id, None),
    ]

    # A later config changes the monitor in place (an upsert, not a second monitor).
    with sentry(ingest.dsn, environment="production"):
        capture_checkin(
            monitor_slug="db-backup",
            status=MonitorStatus.OK,
            monitor_config={
                **BERLIN_NIGHTLY,
                "schedule": {"type": "interval", "value": 6, "unit": "hour"},
            },
        )
    changed = await _monitor_by_slug(api, ingest.client_id, "db-backup")
    assert changed["id"] == monitor["id"]
    assert changed["schedule"] == {"type": "interval", "value": 6, "unit": "hour"}


async def test_the_monitor_decorator_reports_a_failing_job_as_an_incident(
    api: httpx.AsyncClient,
) -> None:
    ingest = await ingest_client(api, "Feeds")

    @sentry_sdk.monitor(monitor_slug="feed-import", monitor_config=BERLIN_NIGHTLY)
    def import_feed() -> None:
        raise RuntimeError("the feed is empty")

    @sentry_sdk.monitor(monitor_slug="feed-cleanup", monitor_config=BERLIN_NIGHTLY)
    def clean_up() -> int:
        return 3

    with sentry(ingest.dsn, environment="production"):
        with pytest.raises(RuntimeError):
            import_feed()
        assert clean_up() == 3
    failing = await _monitor_by_slug(api, ingest.client_id, "feed-import")
    assert failing["state"] == "failing"
    assert [row["status"] for row in failing["last_check_ins"]] == ["error", "in_progress"]
    ticket = await api.get(f"/v1/tickets/{failing['open_ticket_id']}", headers=STAFF)
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["kind"] == "incident"
    assert ticket.json()["title"] == "feed-import: reported a failure"
    fine = await _monitor_by_slug(api, ingest.client_id, "feed-cleanup")
    assert fine["state"] == "ok"
    assert fine["open_ticket_id"] is None


async def test_a_config_that_cannot_be_evaluated_is_refused_and_nothing_is_stored(
    api: httpx.AsyncClient,
) -> None:
    ingest = await ingest_client(api, "Broken")
    envelope = (
        b'{"dsn":"' + ingest.dsn.encode() + b'"}\n'
        b'{"type":"check_in"}\n'
        b'{"check_in_id":"abc","monitor_slug":"bad","status":"ok",'
        b'"monitor_config":{"schedule":{"type":"crontab","value":"0 3 * *"},"timezone":"UTC"}}\n'
    )
    answer = await api.post(
        f"/api/{ingest.project_id}/envelope/",
        content=envelope,
        headers={"content-type": "application/x-sentry-envelope"},
    )
    assert answer.status_code == 422, answer.text
    assert "0 3 * *" in answer.json()["detail"]
    listed = await api.get("/v1/monitors", params={"client_id": ingest.client_id}, headers=STAFF)
    assert listed.json()["items"] == []
