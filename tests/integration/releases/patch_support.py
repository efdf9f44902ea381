"""Helpers for the patch-management tests: products, deployments, SBOMs, OSV documents."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases.models import outbox
from aftercare_shared.events import CloudEvent
from tests.integration.releases.releases_support import unique_product


async def new_product(
    api: httpx.AsyncClient, staff: dict[str, str], label: str = "shop", **fields: Any
) -> str:
    name = unique_product(label)
    created = await api.post("/v1/products", json={"name": name, **fields}, headers=staff)
    assert created.status_code == 201, created.text
    return name


async def deploy(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    client_id: str,
    product: str,
    version: str,
    environment: str = "production",
    status: str = "succeeded",
) -> dict[str, Any]:
    answer = await api.post(
        "/v1/deployments",
        json={
            "client_id": client_id,
            "environment": environment,
            "product": product,
            "version": version,
            "status": status,
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def cyclonedx(*purls: str, spec_version: str = "1.5") -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": spec_version,
        "version": 1,
        "components": [
            {
                "type": "library",
                "name": purl.split("/")[-1].split("@")[0],
                "version": purl.rsplit("@", 1)[1],
                "purl": purl,
            }
            for purl in purls
        ],
    }


def osv(
    advisory_id: str,
    *affected: dict[str, Any],
    modified: str = "2026-11-01T00:00:00Z",
    severity: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "schema_version": "1.6.0",
        "id": advisory_id,
        "modified": modified,
        "aliases": [f"CVE-2026-{abs(hash(advisory_id)) % 100000}"],
        "summary": f"Problem {advisory_id}",
        "severity": severity or [],
        "affected": list(affected),
        **extra,
    }


def package(
    ecosystem: str,
    name: str,
    *ranges: tuple[str, list[dict[str, str]]],
    versions: list[str] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": [{"type": kind, "events": events} for kind, events in ranges],
    }
    if versions is not None:
        entry["versions"] = versions
    return entry


async def events_of(
    session_factory: async_sessionmaker[AsyncSession], short_type: str, subject: str | None = None
) -> list[CloudEvent]:
    """Outbox events of one type (optionally about one aggregate), oldest first."""
    async with session_factory() as session:
        statement = select(outbox.c.payload).order_by(outbox.c.id)
        if subject is not None:
            statement = statement.where(outbox.c.record_key == subject)
        rows = await session.execute(statement)
    events = [CloudEvent.from_json_bytes(bytes(row[0])) for row in rows]
    return [event for event in events if event.type == f"aftercare.{short_type}.v1"]
