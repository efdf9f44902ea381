"""Migrated test databases are copies of a template migrated once: each copy is complete
(every migration applied), independent of the others, and a change to the code the
migrations run makes a new template."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from devkit import databases
from devkit.databases import create_migrated_database, drop_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def test_copies_are_at_the_latest_migration_and_independent() -> None:
    first = await create_migrated_database("releases")
    second = await create_migrated_database("releases")
    try:
        assert first != second
        one = await asyncpg.connect(_libpq(first))
        two = await asyncpg.connect(_libpq(second))
        try:
            heads = [
                await connection.fetchval("SELECT version_num FROM releases.alembic_version")
                for connection in (one, two)
            ]
            assert heads[0] == heads[1]
            assert heads[0] is not None
            await one.execute("DROP TABLE releases.outbox CASCADE")
            # The second copy (and so the template) still has what the first one dropped.
            assert await two.fetchval("SELECT to_regclass('releases.outbox') IS NOT NULL")
        finally:
            await one.close()
            await two.close()
    finally:
        await drop_database(first)
        await drop_database(second)


def test_the_template_follows_the_services_and_their_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = databases._migrations_digest.__wrapped__  # uncached: the code changes below
    assert digest(("sla",)) != digest(("intake",))
    assert digest(("sla", "intake")) != digest(("intake", "sla"))
    assert digest(("sla",)) == digest(("sla",))
    # A line changed anywhere in the packages the migrations import: a new template.
    package = tmp_path / "aftercare_shared"
    package.mkdir()
    helper = package / "outbox.py"
    helper.write_text("INDEX = 'a'\n")
    monkeypatch.setattr(databases, "_package_folder", lambda _name: package)
    before = digest(("sla",))
    helper.write_text("INDEX = 'b'\n")
    assert digest(("sla",)) != before
