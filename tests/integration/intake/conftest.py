"""intake's integration fixtures: a fresh migrated database and the app serving on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from aftercare_intake.app import create_app
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.names import ServiceName
from aftercare_shared.topics import ensure_topics
from devkit.databases import create_migrated_database, drop_database, kafka_bootstrap_servers
from devkit.kafka_groups import start_groups_at_the_end
from tests.conftest import common_settings_for
from tests.support.asgi import serving


@pytest.fixture(scope="session", autouse=True)
async def event_topics() -> None:
    """The shared event topics exist (with their partitions) before a group starts at
    their end: the test stack creates none itself."""
    await ensure_topics(kafka_bootstrap_servers(), partitions=6, replication_factor=1)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    url = await create_migrated_database(ServiceName.INTAKE)
    yield url
    await drop_database(url)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    group = f"test-intake-{database_url[-8:]}"
    # The shared topics hold every earlier test's events: the new group starts at their end.
    await start_groups_at_the_end(group)
    settings = IntakeSettings(
        common=common_settings_for(database_url),
        consumer_group=group,
        # Slow refill: the burst alone decides, however slowly a loaded machine answers.
        report_rate_per_second=0.01,
        report_rate_burst=20,
    )
    async with serving(create_app(settings), base_url="http://intake", startup_timeout=5) as client:
        yield client
