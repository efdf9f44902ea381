"""The four services as real uvicorn processes on one fresh database and the test stack's
Kafka, with two clients and a client API key each: what the fuzz run and the
tenant-isolation matrix call over real HTTP (as tests/e2e starts them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from aftercare_shared.names import SERVICE_NAMES, ServiceName
from devkit.databases import (
    admin_token,
    drop_database,
)
from devkit.isolated_services import isolated_services
from devkit.service_processes import UvicornProcess, service_process

STAFF = {"Authorization": f"Bearer {admin_token()}"}
START_SECONDS = 180.0
"""How long four services may take to import and start together on a busy 2-core machine."""
KEY_PROPAGATION_SECONDS = 60.0
"""How long a new client key may take to reach every service's read model (via Kafka)."""

# A route of every service that a client key may call: 401 until the key has reached the
# service's read model.
_READ_PROBES: dict[ServiceName, str] = {
    ServiceName.INTAKE: "/v1/tickets",
    ServiceName.SLA: "/v1/reports/sla",
    ServiceName.RELEASES: "/v1/releases",
    ServiceName.NOTIFY: "/v1/endpoints",
}


@dataclass(frozen=True)
class Tenant:
    client_id: str
    api_key_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class LiveStack:
    processes: dict[ServiceName, UvicornProcess]
    database_url: str
    tenants: tuple[Tenant, Tenant]

    def url(self, service: ServiceName) -> str:
        return self.processes[service].url

    async def openapi(self, service: ServiceName) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.get(self.url(service) + "/openapi.json")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
            return document


async def _new_tenant(http: httpx.AsyncClient, intake: str, name: str) -> Tenant:
    client = await http.post(f"{intake}/v1/clients", headers=STAFF, json={"name": name})
    assert client.status_code == 201, client.text
    client_id = client.json()["id"]
    key = await http.post(f"{intake}/v1/clients/{client_id}/api-keys", headers=STAFF, json={})
    assert key.status_code == 201, key.text
    return Tenant(client_id=client_id, api_key_id=key.json()["id"], api_key=key.json()["key"])


async def _wait_until_known(
    http: httpx.AsyncClient, base_url: str, path: str, tenant: Tenant
) -> None:
    give_up_at = time.monotonic() + KEY_PROPAGATION_SECONDS
    while time.monotonic() < give_up_at:
        answer = await http.get(base_url + path, headers=tenant.headers)
        if answer.status_code != 401:
            return  # known (a missing query parameter is a 422, after authentication)
        await asyncio.sleep(0.25)
    raise AssertionError(f"the key of {tenant.client_id} did not reach {base_url} in time")


@asynccontextmanager
async def live_stack(log_dir: Path) -> AsyncIterator[LiveStack]:
    isolated = await isolated_services(SERVICE_NAMES, prefix="live")
    database_url = isolated.database_url
    env = {
        **isolated.settings(),
        "AFTERCARE_OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
        # The fuzz run calls fast with one key: it tests answers, not the rate limit.
        "AFTERCARE_CLIENT_RATE_PER_SECOND": "100000",
        "AFTERCARE_CLIENT_RATE_BURST": "100000",
        "INTAKE_REPORT_RATE_PER_SECOND": "100000",
        "INTAKE_REPORT_RATE_BURST": "100000",
        "NOTIFY_SSRF_ALLOWLIST": "127.0.0.0/8,::1/128",
    }
    processes = {name: service_process(name, log_dir / f"{name}.log") for name in SERVICE_NAMES}
    try:
        for process in processes.values():
            process.start(env)
        await asyncio.gather(*(process.wait_ready(START_SECONDS) for process in processes.values()))
        async with httpx.AsyncClient(timeout=10.0) as http:
            intake = processes[ServiceName.INTAKE].url
            tenants = (
                await _new_tenant(http, intake, "Tenant A"),
                await _new_tenant(http, intake, "Tenant B"),
            )
            await asyncio.gather(
                *(
                    _wait_until_known(http, processes[name].url, path, tenant)
                    for name, path in _READ_PROBES.items()
                    for tenant in tenants
                )
            )
        yield LiveStack(processes=processes, database_url=database_url, tenants=tenants)
    finally:
        for process in processes.values():
            process.stop()
        await drop_database(database_url)
