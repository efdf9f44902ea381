"""Two intake replicas (real uvicorn processes on one database) run the monitor timers:
each due probe runs once, and each missed deadline opens exactly one ticket."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devkit.databases import (
    admin_token,
    create_migrated_database,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.service_processes import UvicornProcess, service_process
from tests.integration.intake.intake_support import STAFF, count, scalar
from tests.integration.intake.monitor_support import new_client, new_monitor
from tests.integration.intake.probe_targets import Target, serving
from tests.support.infra import holds_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

MONITORS = 20


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    url = await create_migrated_database("intake", prefix="monrep")
    yield url
    await drop_database(url)


@pytest.fixture
async def replicas(database_url: str, tmp_path: Path) -> AsyncIterator[list[UvicornProcess]]:
    processes = [service_process("intake", tmp_path / f"intake-{n}.log") for n in (1, 2)]
    env = {
        "AFTERCARE_DATABASE_URL": database_url,
        "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
        "AFTERCARE_ADMIN_TOKEN": admin_token(),
        "AFTERCARE_ENVIRONMENT": "test",
        "AFTERCARE_LOG_LEVEL": "WARNING",
        "INTAKE_CONSUMER_GROUP": f"test-intake-monrep-{secrets.token_hex(4)}",
        "INTAKE_MONITOR_CHECK_INTERVAL_SECONDS": "0.2",
        "INTAKE_PROBE_ALLOWLIST": "127.0.0.0/8",
    }
    try:
        for process in processes:
            process.start(env)
        await asyncio.gather(*(process.wait_ready() for process in processes))
        yield processes
    finally:
        for process in processes:
            process.stop()


async def _until(condition_query: str, database_url: str, expected: int, within: float) -> int:
    deadline = time.monotonic() + within
    while True:
        found = int(await scalar(database_url, condition_query))
        if found >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def test_two_replicas_probe_once_and_open_one_ticket_per_miss(
    replicas: list[UvicornProcess], database_url: str
) -> None:
    site: Target
    async with (
        serving() as site,
        httpx.AsyncClient(base_url=replicas[0].url, timeout=30) as api,
    ):
        client_id = await new_client(api)
        for number in range(MONITORS):
            await new_monitor(
                api,
                client_id,
                slug=f"site-{number}",
                kind="uptime",
                url=f"{site.base_url}/ok/{number}",
                schedule={"type": "interval", "value": 1, "unit": "minute"},
            )
            await new_monitor(
                api,
                client_id,
                slug=f"job-{number}",
                schedule={"type": "interval", "value": 1, "unit": "minute"},
                checkin_margin_minutes=0,
            )
        probed = await _until(
            "SELECT count(*) FROM intake.monitor_probes", database_url, MONITORS, within=30
        )
        assert probed == MONITORS

        async def each_probed_once() -> bool:
            return sorted(site.hits.values()) == [1] * MONITORS and (
                await count(database_url, "monitor_probes") == MONITORS
            )

        # Both replicas keep polling (rounds well under a second apart): nothing is probed
        # twice in a 2 s window.
        await holds_for(each_probed_once, seconds=2.0, message="one probe per monitor")

        # The heartbeats expected a check-in a minute after creation; none came.
        missed = await _until(
            "SELECT count(*) FROM intake.monitor_incidents", database_url, MONITORS, within=120
        )
        assert missed == MONITORS

        async def one_ticket_each() -> bool:
            return await count(database_url, "tickets") == MONITORS

        await holds_for(one_ticket_each, seconds=2.0, message="one ticket per monitor")
        failed = await scalar(
            database_url,
            "SELECT count(*) FROM intake.outbox "
            "WHERE convert_from(payload, 'UTF8')::jsonb ->> 'type' = 'aftercare.monitor.failed.v1'",
        )
        assert failed == MONITORS
        listed = await api.get(
            "/v1/monitors", params={"client_id": client_id, "limit": 200}, headers=STAFF
        )
        states = sorted({item["state"] for item in listed.json()["items"]})
        assert states == ["missed", "ok"]
