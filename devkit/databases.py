"""Fresh, fully migrated databases for tests: each test module gets its own."""

from __future__ import annotations

import asyncio
import os
import secrets

import asyncpg

from aftercare_shared.migrations import upgrade

DEV_FALLBACK_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:55432/postgres"
DEV_FALLBACK_KAFKA = "127.0.0.1:59092"
TEST_ADMIN_TOKEN = "test-admin-token-0123456789abcdef"  # noqa: S105 - a fixed token for test stacks only


def base_database_url() -> str:
    return os.environ.get("AFTERCARE_DATABASE_URL", DEV_FALLBACK_DATABASE_URL)


def kafka_bootstrap_servers() -> str:
    return os.environ.get("AFTERCARE_KAFKA_BOOTSTRAP_SERVERS", DEV_FALLBACK_KAFKA)


def admin_token() -> str:
    return os.environ.get("AFTERCARE_ADMIN_TOKEN", TEST_ADMIN_TOKEN)


def _with_database(url: str, database: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{database}"


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def create_database(prefix: str = "t") -> str:
    """Create an empty database and return its asyncpg SQLAlchemy URL."""
    name = f"aftercare_{prefix}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(_libpq(base_database_url()))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return _with_database(base_database_url(), name)


async def drop_database(url: str) -> None:
    name = url.rpartition("/")[2]
    connection = await asyncpg.connect(_libpq(base_database_url()))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def create_migrated_database(*services: str, prefix: str = "t") -> str:
    url = await create_database(prefix)
    for service in services:
        # Alembic's API is synchronous and runs its own event loop: keep it off ours.
        await asyncio.to_thread(upgrade, service, url)
    return url
