"""intake's integration fixtures: a fresh migrated database and the app serving on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from aftercare_intake.app import create_app
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.names import ServiceName
from devkit.databases import create_migrated_database, drop_database
from tests.conftest import common_settings_for
from tests.support.asgi import serving


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    url = await create_migrated_database(ServiceName.INTAKE)
    yield url
    await drop_database(url)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = IntakeSettings(
        common=common_settings_for(database_url),
        consumer_group=f"test-intake-{database_url[-8:]}",
        report_rate_per_second=1,
        report_rate_burst=20,
    )
    async with serving(create_app(settings), base_url="http://intake", startup_timeout=5) as client:
        yield client
