"""The sla migrations run forwards, backwards and forwards again, and match the models."""

from __future__ import annotations

import asyncio

from aftercare_shared.migrations import downgrade, upgrade
from aftercare_sla.models import Base
from aftercare_sla.reports.models import REPORT_TABLES
from tests.support.schema_drift import migrated_schema

SLA_TABLES = {
    "plans",
    "plan_versions",
    "client_plans",
    "clients",
    "tickets",
    "clocks",
    "clock_timers",
    "client_api_keys",
    "staff_token_copies",
    "rate_buckets",
    "outbox",
    "inbox",
    "alembic_version",
    "report_publications",
    *REPORT_TABLES,
}


async def _inspect(database_url: str) -> tuple[set[str], list[object]]:
    """The sla tables, and how the migrated schema differs from the models."""
    return await migrated_schema(database_url, schema="sla", metadata=Base.metadata)


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
