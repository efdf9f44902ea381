"""One migrated database and one running releases app (lifespan, relay, consumer) per module."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases.app import create_app
from aftercare_releases.settings import ReleasesSettings
from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.topics import ensure_topics
from devkit.databases import (
    admin_token,
    create_migrated_database,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.kafka_groups import start_groups_at_the_end
from tests.conftest import common_settings_for
from tests.support.asgi import asgi_client


@pytest.fixture(scope="module")
async def releases_database_url() -> AsyncIterator[str]:
    url = await create_migrated_database("releases", prefix="releases")
    yield url
    await drop_database(url)


@pytest.fixture(scope="module")
async def releases_app(releases_database_url: str) -> AsyncIterator[FastAPI]:
    await ensure_topics(kafka_bootstrap_servers(), partitions=6, replication_factor=1)
    # Our own group: other test runs and the dev stack keep their offsets. It starts at
    # the end of the shared topics, not at the history every earlier test left there.
    group = f"aftercare-releases-test-{secrets.token_hex(4)}"
    await start_groups_at_the_end(group)
    settings = ReleasesSettings(
        common=common_settings_for(releases_database_url), consumer_group=group
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


@pytest.fixture(scope="module")
async def api(releases_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(releases_app) as client:
        yield client


@pytest.fixture(scope="module")
async def session_factory(
    releases_database_url: str, releases_app: FastAPI
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The tests' own sessions on the app's database, to seed and inspect it."""
    engine = create_engine(
        releases_database_url, pool_size=2, application_name="aftercare-releases-tests"
    )
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def staff() -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token()}"}
