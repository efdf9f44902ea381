"""Helpers the monitor tests share: a client, monitors, and the timer rounds driven by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.monitors import service
from tests.integration.intake.intake_support import STAFF, outbox_events, sessions

POLICY = OccurrencePolicy(samples=10, announce_interval=timedelta(seconds=60))
# Background rounds out of the way: tests drive each round with an explicit "now".
QUIET_JOBS = {"monitor_check_interval_seconds": 60.0}


async def new_client(api: httpx.AsyncClient, name: str = "Acme") -> str:
    created = await api.post("/v1/clients", json={"name": name}, headers=STAFF)
    assert created.status_code == 201, created.text
    client_id: str = created.json()["id"]
    return client_id


async def new_monitor(api: httpx.AsyncClient, client_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "client_id": client_id,
        "name": "Nightly backup",
        "slug": "nightly-backup",
        "kind": "heartbeat",
        "schedule": {"type": "crontab", "value": "0 3 * * *"},
        **fields,
    }
    answer = await api.post("/v1/monitors", json=body, headers=STAFF)
    assert answer.status_code == 201, answer.text
    monitor: dict[str, Any] = answer.json()
    return monitor


async def monitor(api: httpx.AsyncClient, monitor_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/monitors/{monitor_id}", headers=STAFF)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def evaluate(database_url: str, now: datetime, *, limit: int = 100) -> int:
    """Heartbeat timer rounds at ``now`` until nothing is due; how many monitors they took."""
    handled = 0
    async with sessions(database_url) as session_factory:
        while True:
            async with session_factory() as session:
                taken = await service.evaluate_due_heartbeats(
                    session, now=now, limit=limit, policy=POLICY
                )
            handled += taken
            if taken < limit:
                return handled


async def monitor_events(database_url: str, event_type: str) -> list[dict[str, Any]]:
    return [
        event.data
        for event in await outbox_events(database_url)
        if event.type == f"aftercare.{event_type}.v1"
    ]


async def ticket(api: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found
