"""Revision 0002 on a database that already holds 0001's data: keys get DSN keys, each
fingerprint routes to the ticket it should, and nothing already announced is owed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_shared.migrations import downgrade, upgrade
from aftercare_shared.names import ServiceName
from devkit.databases import create_database, drop_database

ROWS = """
INSERT INTO intake.clients VALUES ('c1', 'Acme', now(), now());
INSERT INTO intake.api_keys (id, client_id, name, prefix, key_hash, created_at)
VALUES ('k1', 'c1', null, 'ak_x', 'hash-1', now()), ('k2', 'c1', null, 'ak_y', 'hash-2', now());
INSERT INTO intake.tickets
    (id, client_id, title, severity, priority, status, fingerprint, occurrences,
     first_seen_at, last_seen_at, created_at, updated_at)
VALUES
    ('old', 'c1', 'Crash', 'high', 'P2', 'closed', 'f', 4,
     now() - interval '3 days', now() - interval '2 days', now() - interval '3 days', now()),
    ('open', 'c1', 'Crash', 'high', 'P2', 'new', 'f', 2,
     now() - interval '1 day', now(), now() - interval '1 day', now()),
    ('fixed', 'c1', 'Other', 'low', 'P4', 'resolved', 'g', 7,
     now() - interval '5 days', now() - interval '4 days', now() - interval '5 days', now());
"""


@pytest.fixture
async def database_at_0001() -> AsyncIterator[str]:
    url = await create_database()
    await asyncio.to_thread(upgrade, ServiceName.INTAKE, url, "0001")
    yield url
    await drop_database(url)


async def test_0002_keeps_existing_data_working(database_at_0001: str) -> None:
    engine = create_async_engine(database_at_0001)
    try:
        async with engine.begin() as connection:
            for statement in ROWS.strip().split(";\n"):
                await connection.execute(sa.text(statement))
        await asyncio.to_thread(upgrade, ServiceName.INTAKE, database_at_0001)
        async with engine.connect() as connection:
            keys = (
                await connection.execute(sa.text("SELECT scope, public_key FROM intake.api_keys"))
            ).all()
            routes = (
                await connection.execute(
                    sa.text(
                        "SELECT fingerprint, ticket_id, occurrences FROM intake.ticket_fingerprints"
                        " ORDER BY fingerprint"
                    )
                )
            ).all()
            announced = (
                await connection.execute(
                    sa.text(
                        "SELECT id, occurrences_announced = occurrences,"
                        " occurrence_announced_at = last_seen_at FROM intake.tickets ORDER BY id"
                    )
                )
            ).all()
        assert [scope for scope, _ in keys] == ["client", "client"]
        public_keys = [public_key for _, public_key in keys]
        assert len(set(public_keys)) == 2
        assert all(len(key) == 32 and key.isalnum() for key in public_keys)
        # An open ticket wins its fingerprint; else the latest one (it reopens on recurrence).
        assert [tuple(route) for route in routes] == [("f", "open", 2), ("g", "fixed", 7)]
        assert [tuple(row) for row in announced] == [
            ("fixed", True, True),
            ("old", True, True),
            ("open", True, True),
        ]

        await asyncio.to_thread(downgrade, ServiceName.INTAKE, database_at_0001, "0001")
        async with engine.connect() as connection:
            assert await connection.scalar(sa.text("SELECT count(*) FROM intake.tickets")) == 3
            assert (
                await connection.scalar(sa.text("SELECT to_regclass('intake.ticket_fingerprints')"))
                is None
            )
        await asyncio.to_thread(upgrade, ServiceName.INTAKE, database_at_0001)
    finally:
        await engine.dispose()


@pytest.fixture
async def database_at_0003() -> AsyncIterator[str]:
    url = await create_database()
    await asyncio.to_thread(upgrade, ServiceName.INTAKE, url, "0003_resolution_on_deploy")
    yield url
    await drop_database(url)


async def test_0004_maps_free_text_kinds_to_the_closed_set(database_at_0003: str) -> None:
    engine = create_async_engine(database_at_0003)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.text("INSERT INTO intake.clients VALUES ('c1', 'Acme', now(), now())")
            )
            for ticket_id, kind in [
                ("none", None),
                ("sentry", "KeyError"),
                ("security", "security"),
                ("rest", "crash"),
            ]:
                await connection.execute(
                    sa.text(
                        "INSERT INTO intake.tickets (id, client_id, title, severity, priority,"
                        " kind, status, fingerprint, first_seen_at, last_seen_at, created_at,"
                        " updated_at, occurrence_announced_at, sla_status) VALUES (:id, 'c1',"
                        " 'Crash', 'high', 'P2', :kind, 'new', :id, now(), now(), now(), now(),"
                        " now(), CAST(:sla AS jsonb))"
                    ),
                    {
                        "id": ticket_id,
                        "kind": kind,
                        "sla": '{"resolution": {"state": "running",'
                        ' "due_at": "2026-12-02T10:00:00+00:00"}}',
                    },
                )
        await asyncio.to_thread(upgrade, ServiceName.INTAKE, database_at_0003)
        async with engine.connect() as connection:
            rows = await connection.execute(sa.text("SELECT id, kind FROM intake.tickets"))
            kinds: dict[str, str] = {row[0]: row[1] for row in rows}
            due = await connection.scalar(
                sa.text("SELECT sla_due_at FROM intake.tickets WHERE id = 'sentry'")
            )
            matched = await connection.scalar(
                sa.text(
                    "SELECT count(*) FROM intake.tickets"
                    " WHERE search @@ websearch_to_tsquery('english', 'crashes')"
                )
            )
        assert kinds == {"none": "bug", "sentry": "bug", "security": "security", "rest": "bug"}
        assert due.isoformat() == "2026-12-02T10:00:00+00:00"
        assert matched == 4  # the search column is filled for rows that existed before
        async with engine.begin() as connection:
            refused = await connection.execute(
                sa.text("SELECT count(*) FROM pg_constraint WHERE conname = 'ck_tickets_kind'")
            )
            assert refused.scalar() == 1
        await asyncio.to_thread(
            downgrade, ServiceName.INTAKE, database_at_0003, "0003_resolution_on_deploy"
        )
        await asyncio.to_thread(upgrade, ServiceName.INTAKE, database_at_0003)
    finally:
        await engine.dispose()
