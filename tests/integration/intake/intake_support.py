"""Helpers intake's integration tests share: clients with keys, rows and outbox events."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from aftercare_intake.app import create_app
from aftercare_intake.consumers import handlers
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.db import create_session_factory
from aftercare_shared.events import CloudEvent
from devkit.databases import admin_token
from devkit.kafka_groups import start_groups_at_the_end
from devkit.sentry_payloads import envelope_of
from tests.conftest import common_settings_for
from tests.support.asgi import serving

__all__ = ["envelope_of"]

STAFF = {"Authorization": f"Bearer {admin_token()}"}


def intake_api(
    database_url: str, **settings: Any
) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    """intake in process (lifespan and all) on ``database_url`` with these INTAKE_ settings.

    Its consumer group is new and starts at the end of the shared topics (not at the
    history every earlier test left there)."""
    return intake_api_providing(database_url, (), **settings)


@asynccontextmanager
async def intake_api_providing(
    database_url: str, providing: tuple[object, ...], /, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """:func:`intake_api` with ``providing`` in place of the provided objects of their
    types (a test's own filing, say)."""
    group = f"test-intake-{uuid.uuid4().hex[:8]}"
    await start_groups_at_the_end(group)
    app: FastAPI = create_app(
        IntakeSettings(common=common_settings_for(database_url), consumer_group=group, **settings)
    )
    for replacement in providing:
        replaced = next(kind for kind in app.state.provided if isinstance(replacement, kind))
        app.state.provided[replaced] = replacement
    async with serving(app, base_url="http://intake", startup_timeout=5) as client:
        yield client


@dataclass(frozen=True)
class IngestClient:
    """A client with a project and an API key: what a Sentry SDK is given."""

    client_id: str
    project_id: int
    key: str
    public_key: str
    dsn: str

    @property
    def auth(self) -> dict[str, str]:
        return {"X-Sentry-Auth": f"Sentry sentry_key={self.public_key}, sentry_version=7"}


async def ingest_client(
    api: httpx.AsyncClient,
    name: str = "Acme",
    *,
    scope: str = "ingest",
    allowed_origins: list[str] | None = None,
) -> IngestClient:
    created = await api.post("/v1/clients", json={"name": name}, headers=STAFF)
    assert created.status_code == 201, created.text
    client_id = created.json()["id"]
    project = await api.post(
        f"/v1/clients/{client_id}/projects",
        json={"name": f"{name}-web", "allowed_origins": allowed_origins or []},
        headers=STAFF,
    )
    assert project.status_code == 201, project.text
    key = await api.post(f"/v1/clients/{client_id}/api-keys", json={"scope": scope}, headers=STAFF)
    assert key.status_code == 201, key.text
    body = key.json()
    return IngestClient(
        client_id=client_id,
        project_id=project.json()["id"],
        key=body["key"],
        public_key=body["public_key"],
        dsn=body["dsn"],
    )


def sentry_event(**fields: Any) -> dict[str, Any]:
    """An exception event as a Python Sentry SDK sends it (override any field)."""
    return {
        "event_id": uuid.uuid4().hex,
        "level": "error",
        "platform": "python",
        "release": "shop@1.4.0",
        "environment": "production",
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'sku-1'",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.pricing",
                                "function": "price_for",
                                "filename": "shop/pricing.py",
                                "lineno": 42,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        **fields,
    }


async def send_envelope(
    api: httpx.AsyncClient,
    ingest: IngestClient,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    project_id: int | None = None,
) -> httpx.Response:
    return await api.post(
        f"/api/{project_id or ingest.project_id}/envelope/",
        content=body,
        headers={
            "content-type": "application/x-sentry-envelope",
            **(ingest.auth if headers is None else headers),
        },
    )


async def deliver(database_url: str, event: CloudEvent) -> None:
    """Run intake's handler registry on ``event`` as the consumer runner does."""
    async with (
        sessions(database_url) as session_factory,
        session_factory() as session,
        session.begin(),
    ):
        await handlers(session, event)


async def scalar(database_url: str, query: str, **parameters: Any) -> Any:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(sa.text(query), parameters)
    finally:
        await engine.dispose()


async def client_with_key(api: httpx.AsyncClient, name: str = "Acme") -> tuple[str, str]:
    created = await api.post("/v1/clients", json={"name": name}, headers=STAFF)
    assert created.status_code == 201, created.text
    client_id = created.json()["id"]
    key = await api.post(f"/v1/clients/{client_id}/api-keys", headers=STAFF)
    assert key.status_code == 201, key.text
    return client_id, key.json()["key"]


async def report(api: httpx.AsyncClient, key: str, title: str, severity: str = "low") -> str:
    """File a report with its own fingerprint; the id of the ticket it opened."""
    answer = await api.post(
        "/v1/reports",
        json={"title": title, "severity": severity, "fingerprint": title},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 201, answer.text
    ticket_id: str = answer.json()["ticket_id"]
    return ticket_id


async def count(database_url: str, table: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(sa.text(f"SELECT count(*) FROM intake.{table}")))  # noqa: S608 - test-chosen table name
    finally:
        await engine.dispose()


async def outbox_events(database_url: str) -> list[CloudEvent]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text("SELECT payload FROM intake.outbox ORDER BY id")
            )
            return [CloudEvent.from_json_bytes(bytes(row[0])) for row in rows]
    finally:
        await engine.dispose()


@asynccontextmanager
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on the test database, as the platform's workers get one."""
    engine = create_async_engine(database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
