"""Helpers for the releases integration tests: request bodies and read-model seeding."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases.consumers import handlers
from aftercare_releases.models import Release, ReleaseItem, outbox
from aftercare_shared.auth import generate_api_key
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    EventPayload,
    Priority,
    TicketCreated,
)
from aftercare_shared.events.factory import new_event


def unique_product(label: str = "product") -> str:
    return f"{label}-{secrets.token_hex(5)}"


def release_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "product": unique_product(),
        "version": "1.0.0",
        "kind": "bugfix",
        "notes": "Fixes the checkout.",
        "ticket_ids": [],
    }
    body.update(overrides)
    return body


async def apply_events(
    session_factory: async_sessionmaker[AsyncSession], *payloads: EventPayload, subject: str
) -> None:
    """Apply events as the consumer would: the registry inside one transaction."""
    async with session_factory() as session, session.begin():
        for payload in payloads:
            await handlers(session, new_event(payload, service="intake", subject=subject))


@dataclass(frozen=True)
class SeededClient:
    client_id: str
    headers: dict[str, str]
    api_key_id: str


async def seed_client(session_factory: async_sessionmaker[AsyncSession]) -> SeededClient:
    """A client with an API key in the read model, as aftercare.clients would bring it."""
    client_id = str(uuid.uuid4())
    key = generate_api_key()
    api_key_id = str(uuid.uuid4())
    issued = ClientApiKeyIssued(
        api_key_id=api_key_id,
        client_id=client_id,
        key_hash=key.key_hash,
        prefix=key.prefix,
        created_at=utc_now(),
    )
    await apply_events(session_factory, issued, subject=client_id)
    return SeededClient(
        client_id=client_id, headers={"Authorization": f"Bearer {key.key}"}, api_key_id=api_key_id
    )


def ticket_created(client_id: str, title: str, priority: Priority = "P2") -> TicketCreated:
    return TicketCreated(
        ticket_id=str(uuid.uuid4()),
        client_id=client_id,
        title=title,
        severity="high",
        priority=priority,
        status="new",
        fingerprint=secrets.token_hex(8),
        created_at=utc_now(),
    )


async def seed_ticket(
    session_factory: async_sessionmaker[AsyncSession],
    client_id: str,
    title: str,
    priority: Priority = "P2",
) -> str:
    created = ticket_created(client_id, title, priority)
    await apply_events(session_factory, created, subject=created.ticket_id)
    return created.ticket_id


@dataclass(frozen=True)
class RowCounts:
    releases: int
    release_items: int
    outbox: int


async def row_counts(session_factory: async_sessionmaker[AsyncSession]) -> RowCounts:
    async with session_factory() as session:
        releases = await session.scalar(select(func.count()).select_from(Release))
        items = await session.scalar(select(func.count()).select_from(ReleaseItem))
        outbox_rows = await session.scalar(select(func.count()).select_from(outbox))
    return RowCounts(releases=releases or 0, release_items=items or 0, outbox=outbox_rows or 0)
