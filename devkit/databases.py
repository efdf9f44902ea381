"""Fresh, fully migrated databases for tests: each test module gets its own.

A migrated database is copied from a *template* (``CREATE DATABASE … TEMPLATE``), migrated
once per set of services and per content of their migrations, instead of running every
migration again for each test: the copy takes about half the time of a new database
plus its migrations, for some hundreds of databases per ``make test``. The template's
name carries a digest of the migration files, so a changed migration makes a new one,
and a test stack kept between runs reuses it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import os
import secrets
from pathlib import Path

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


async def create_database(prefix: str = "t", *, template: str | None = None) -> str:
    """Create a database, empty or a copy of ``template``; return its asyncpg SQLAlchemy URL."""
    name = f"aftercare_{prefix}_{secrets.token_hex(4)}"
    copied = "" if template is None else f' TEMPLATE "{template}"'
    connection = await asyncpg.connect(_libpq(base_database_url()))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"{copied}')
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
    """A new database holding ``services``' schemas at their latest migration."""
    return await create_database(prefix, template=await _migrated_template(services))


_made_templates: set[tuple[str, str]] = set()
"""(server, template) pairs this process has seen exist: no lock or lookup again."""

# Any number for pg_advisory_lock: only the processes making templates take it.
_TEMPLATE_LOCK_KEY = 0x41465443  # "AFTC"


async def _migrated_template(services: tuple[str, ...]) -> str:
    """The template database for ``services``, made (under a lock, so a second pytest
    process waits rather than migrating the same template) if it does not exist yet."""
    template = f"aftercare_template_{_migrations_digest(services)}"
    if (base_database_url(), template) in _made_templates:
        return template
    connection = await asyncpg.connect(_libpq(base_database_url()))
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_LOCK_KEY)
        try:
            exists = await connection.fetchval(
                "SELECT true FROM pg_database WHERE datname = $1", template
            )
            if not exists:
                await _make_template(connection, template, services)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _TEMPLATE_LOCK_KEY)
    finally:
        await connection.close()
    _made_templates.add((base_database_url(), template))
    return template


async def _make_template(
    connection: asyncpg.Connection, template: str, services: tuple[str, ...]
) -> None:
    # Migrated under another name and renamed when complete: a run stopped halfway leaves
    # no template that looks finished.
    building = f"{template}_building"
    await connection.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    await connection.execute(f'CREATE DATABASE "{building}"')
    url = _with_database(base_database_url(), building)
    for service in services:
        # Alembic's API is synchronous and runs its own event loop: keep it off ours.
        await asyncio.to_thread(upgrade, service, url)
    # Renaming and copying need the database without sessions: Alembic's pool may still be
    # closing one.
    for _ in range(200):
        if not await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            building,
        ):
            break
        await asyncio.sleep(0.05)
    await connection.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')


@functools.cache
def _migrations_digest(services: tuple[str, ...]) -> str:
    """A digest of the services' names, in order, and of the code their migrations run:
    the service packages and the shared package (migrations import tables, constants and
    DDL helpers from both), so a changed line anywhere there makes a new template."""
    digest = hashlib.sha256()
    for folder in [
        *(_package_folder(f"aftercare_{service}") for service in services),
        _package_folder("aftercare_shared"),
    ]:
        digest.update(folder.name.encode() + b"\0")
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _package_folder(package: str) -> Path:
    return Path(importlib.import_module(package).__file__ or package).parent
