"""Helpers the notify integration tests share: settings, a running app, events, polling."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_notify.app import create_app
from aftercare_notify.consumers import build_handlers
from aftercare_notify.models import OUTBOX
from aftercare_notify.settings import NotifySettings
from aftercare_shared.clock import utc_now
from aftercare_shared.consumer import EventHandlers
from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import TicketCreated
from aftercare_shared.events.factory import new_event
from devkit.databases import admin_token, create_migrated_database, drop_database
from devkit.webhook_receiver import WebhookReceiver
from tests.conftest import common_settings_for
from tests.support.asgi import serving

T = TypeVar("T")

STAFF = {"Authorization": f"Bearer {admin_token()}"}


def notify_settings_for(database_url: str, **overrides: Any) -> NotifySettings:
    """Fast, local-only settings: compressed retries, loopback allowlisted, workers off."""
    values: dict[str, Any] = {
        "consumer_enabled": False,
        "delivery_worker_enabled": False,
        "retry_schedule": "0,0.2,0.2",
        "delivery_poll_interval_seconds": 0.05,
        "ssrf_allowlist": "127.0.0.0/8",
        "delivery_timeout_seconds": 5,
        "delivery_lease_seconds": 10,
        # The app's own retention job shares the process's clock, which tests freeze and
        # move: keep it from purging what a test stored (retention tests run the job).
        "retention_days": 3650,
        "consumer_group": f"aftercare-notify-test-{uuid.uuid4().hex[:8]}",
    }
    values.update(overrides)
    return NotifySettings(common=common_settings_for(database_url), **values)


@dataclass
class RunningNotify:
    app: FastAPI
    client: httpx.AsyncClient
    settings: NotifySettings
    session_factory: async_sessionmaker[AsyncSession]
    """The test's own sessions on the app's database (the app keeps its pool to itself)."""
    handlers: EventHandlers

    async def fan_out(self, event: CloudEvent) -> None:
        """What the consumer does for one event, in one transaction (as the runner would)."""
        async with self.session_factory() as session, session.begin():
            await self.handlers(session, event)

    async def create_endpoint(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/v1/endpoints", json=body, headers=STAFF)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"/v1/endpoints/{endpoint_id}/deliveries", headers=STAFF)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def outbox_events(self, event_type: str) -> list[CloudEvent]:
        async with self.session_factory() as session:
            payloads = (await session.execute(sa.select(OUTBOX.c.payload))).scalars()
            events = [CloudEvent.from_json_bytes(payload) for payload in payloads]
        return [event for event in events if event.type == event_type]


@asynccontextmanager
async def migrated_notify_database() -> AsyncIterator[str]:
    """A fresh database with notify's real migrations applied, dropped afterwards."""
    url = await create_migrated_database("notify", prefix="notify")
    try:
        yield url
    finally:
        await drop_database(url)


@asynccontextmanager
async def started_receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def running_notify(settings: NotifySettings) -> AsyncIterator[RunningNotify]:
    app = create_app(settings)
    engine = create_engine(
        settings.common.database_url, pool_size=2, application_name="aftercare-notify-tests"
    )
    try:
        async with serving(app, startup_timeout=30) as client:
            yield RunningNotify(
                app=app,
                client=client,
                settings=settings,
                session_factory=create_session_factory(engine),
                handlers=build_handlers(settings),
            )
    finally:
        await engine.dispose()


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    within_seconds: float = 15.0,
    interval: float = 0.05,
) -> T:
    """Poll ``probe`` until ``accept`` likes its answer; fail with the last answer."""
    deadline = time.monotonic() + within_seconds
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {within_seconds} s; last value: {value!r}")
        await asyncio.sleep(interval)


def ticket_created(client_id: str, *, title: str = "Checkout fails") -> CloudEvent:
    ticket_id = str(uuid.uuid4())
    payload = TicketCreated(
        ticket_id=ticket_id,
        client_id=client_id,
        title=title,
        severity="high",
        priority="P2",
        status="new",
        fingerprint=uuid.uuid4().hex,
        created_at=utc_now(),
    )
    return new_event(payload, service="intake", subject=ticket_id, client_id=client_id)


def unique_client_id() -> str:
    return f"client-{uuid.uuid4()}"
