"""The releases migrations run forwards, backwards and forwards again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_shared.migrations import downgrade, upgrade
from tests.support.databases import create_database, drop_database

pytestmark = pytest.mark.integration

EXPECTED_TABLES = {
    "alembic_version",
    "client_api_keys",
    "inbox",
    "outbox",
    "release_items",
    "releases",
    "ticket_views",
}


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    url = await create_database("releases_mig")
    yield url
    await drop_database(url)


async def releases_tables(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'releases'"
                )
            )
            return {row.table_name for row in rows}
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    await asyncio.to_thread(upgrade, "releases", database_url)
    assert await releases_tables(database_url) == EXPECTED_TABLES
    await asyncio.to_thread(downgrade, "releases", database_url)
    assert await releases_tables(database_url) == {"alembic_version"}
    await asyncio.to_thread(upgrade, "releases", database_url)
    assert await releases_tables(database_url) == EXPECTED_TABLES
