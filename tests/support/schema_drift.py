"""Compare a migrated service schema with the service's ORM models.

Tests run the real migrations (never ``create_all``); this tells them whether what the
migrations built is what the models describe, so neither drifts from the other.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


async def migrated_schema(
    database_url: str, *, schema: str, metadata: MetaData
) -> tuple[set[str], list[object]]:
    """The tables in ``schema`` and the differences between them and ``metadata``."""

    def only_this_schema(name: str | None, type_: str, _parent: object) -> bool:
        return type_ != "schema" or name == schema

    def look(connection: Connection) -> tuple[set[str], list[object]]:
        tables = set(inspect(connection).get_table_names(schema=schema))
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": only_this_schema,
                "version_table_schema": schema,
            },
        )
        return tables, list(compare_metadata(context, metadata)) if tables else []

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()
