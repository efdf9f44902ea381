"""The sla migrations run forwards, backwards and forwards again, and match the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_shared.migrations import downgrade, upgrade
from aftercare_sla.models import Base

SLA_TABLES = {
    "plans",
    "client_plans",
    "clients",
    "tickets",
    "clocks",
    "clock_timers",
    "client_api_keys",
    "outbox",
    "inbox",
    "alembic_version",
}


def _only_the_sla_schema(name: str | None, type_: str, _parent: object) -> bool:
    return type_ != "schema" or name == "sla"


async def _inspect(database_url: str) -> tuple[set[str], list[object]]:
    def look(connection: Connection) -> tuple[set[str], list[object]]:
        tables = set(inspect(connection).get_table_names(schema="sla"))
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": _only_the_sla_schema,
                "version_table_schema": "sla",
            },
        )
        return tables, list(compare_metadata(context, Base.metadata)) if tables else []

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, "sla", empty_database_url)
    tables, differences = await _inspect(empty_database_url)
    assert tables == SLA_TABLES
    assert differences == []

    await asyncio.to_thread(downgrade, "sla", empty_database_url)
    tables, _ = await _inspect(empty_database_url)
    assert tables == {"alembic_version"}

    await asyncio.to_thread(upgrade, "sla", empty_database_url)
    tables, differences = await _inspect(empty_database_url)
    assert tables == SLA_TABLES
    assert differences == []
