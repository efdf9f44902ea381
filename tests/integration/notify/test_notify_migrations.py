"""Notify's real migrations go up, down and up again cleanly."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_notify.models import Base
from aftercare_shared.migrations import downgrade, upgrade
from tests.integration.notify.notify_support import migrated_notify_database
from tests.support.schema_drift import migrated_schema

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TABLES = {
    "outbox",
    "inbox",
    "client_api_keys",
    "staff_token_copies",
    "rate_buckets",
    "client_calendars",
    "endpoints",
    "messages",
    "deliveries",
    "delivery_attempts",
    "digest_groups",
    "digest_items",
}


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'notify'"
                )
            )
            return {row[0] for row in rows} - {"alembic_version"}
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade() -> None:
    async with migrated_notify_database() as url:
        assert await _tables(url) == TABLES
        await asyncio.to_thread(downgrade, "notify", url)
        assert await _tables(url) == set()
        await asyncio.to_thread(upgrade, "notify", url)
        assert await _tables(url) == TABLES


async def test_the_migrated_schema_is_what_the_models_describe() -> None:
    async with migrated_notify_database() as url:
        tables, differences = await migrated_schema(url, schema="notify", metadata=Base.metadata)
        assert tables - {"alembic_version"} == TABLES
        assert differences == []
