"""The releases migrations run forwards, backwards and forwards again, and match the models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_releases.models import Base
from aftercare_shared.migrations import downgrade, upgrade
from devkit.databases import create_database, drop_database
from tests.support.schema_drift import migrated_schema

pytestmark = pytest.mark.integration

EXPECTED_TABLES = {
    "alembic_version",
    "client_api_keys",
    "staff_token_copies",
    "rate_buckets",
    "inbox",
    "outbox",
    "release_items",
    "releases",
    "ticket_views",
    "products",
    "deployments",
    "sbom_components",
    "advisories",
    "advisory_packages",
    "exposures",
}

# The check constraints as Postgres reports them: the values the models' ``sql_one_of``
# must keep producing. The names are doubled ("ck_releases_ck_releases_…") because Alembic
# applied the naming convention to the initial migration's already complete names; that
# is the deployed schema, so it is pinned here until a migration renames them. The patch
# management revision replaced the status checks under their single-prefix names.
EXPECTED_CHECKS = {
    "ck_releases_ck_releases_kind_known": (
        "CHECK ((kind = ANY (ARRAY['feature'::text, 'security'::text, 'bugfix'::text, "
        "'performance'::text, 'maintenance'::text])))"
    ),
    "ck_releases_status_known": (
        "CHECK ((status = ANY (ARRAY['draft'::text, 'scheduled'::text, 'published'::text, "
        "'cancelled'::text, 'rolled_back'::text])))"
    ),
    "ck_releases_published_at_iff_published": (
        "CHECK (((status = ANY (ARRAY['published'::text, 'rolled_back'::text])) = "
        "(published_at IS NOT NULL)))"
    ),
    "ck_releases_publish_at_iff_scheduled": (
        "CHECK (((status = 'scheduled'::text) = (publish_at IS NOT NULL)))"
    ),
}


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    url = await create_database("releases_mig")
    yield url
    await drop_database(url)


async def _inspect(database_url: str) -> tuple[set[str], list[object]]:
    """The releases tables, and how the migrated schema differs from the models."""
    return await migrated_schema(database_url, schema="releases", metadata=Base.metadata)


async def _check_constraints(database_url: str) -> dict[str, str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) AS definition "
                    "FROM pg_constraint "
                    "WHERE contype = 'c' AND conrelid = 'releases.releases'::regclass"
                )
            )
            return {row.conname: row.definition for row in rows}
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    await asyncio.to_thread(upgrade, "releases", database_url)
    tables, differences = await _inspect(database_url)
    assert tables == EXPECTED_TABLES
    assert differences == []
    assert await _check_constraints(database_url) == EXPECTED_CHECKS

    await asyncio.to_thread(downgrade, "releases", database_url)
    tables, _ = await _inspect(database_url)
    assert tables == {"alembic_version"}

    await asyncio.to_thread(upgrade, "releases", database_url)
    tables, differences = await _inspect(database_url)
    assert tables == EXPECTED_TABLES
    assert differences == []
