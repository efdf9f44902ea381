"""Alembic per service: each service's ``migrations/`` folder, its version table in its schema.

``upgrade``/``downgrade`` are synchronous (Alembic's API); from async code run them in a
thread. The service's ``migrations/env.py`` calls :func:`run_migrations_from_env`.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(service: str, database_url: str) -> Config:
    package = importlib.import_module(f"aftercare_{service}")
    package_file = package.__file__
    assert package_file is not None
    config = Config()
    config.set_main_option("script_location", str(Path(package_file).parent / "migrations"))
    # Passed as an attribute, not an ini option: URLs may contain '%' which ini interpolates.
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = service
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service, database_url), revision)


def run_migrations_from_env(target_metadata: MetaData) -> None:
    """Body of every service's ``env.py`` (online mode only: we always have a database)."""
    config = context.config
    schema: str = config.attributes["schema"]
    database_url: str = config.attributes["database_url"]

    def run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(run_async())
