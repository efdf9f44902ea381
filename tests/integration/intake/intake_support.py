"""Helpers intake's integration tests share: clients with keys, rows and outbox events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from aftercare_shared.db import create_session_factory
from aftercare_shared.events import CloudEvent
from devkit.databases import admin_token

STAFF = {"Authorization": f"Bearer {admin_token()}"}


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
