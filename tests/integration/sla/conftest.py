"""sla integration fixtures: a migrated database and a running app (with Kafka) per module,
and a fresh database per test for the clock flows, where no timer job may fire timers
behind the test's back."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.topics import ensure_topics
from aftercare_sla.app import create_app
from aftercare_sla.settings import SlaSettings
from devkit.databases import (
    create_migrated_database,
    drop_database,
    kafka_bootstrap_servers,
)
from tests.conftest import common_settings_for
from tests.support.asgi import asgi_client


@pytest.fixture(scope="module")
async def sla_database_url() -> AsyncIterator[str]:
    url = await create_migrated_database("sla", prefix="sla")
    yield url
    await drop_database(url)


@pytest.fixture(scope="module")
def sla_topics() -> dict[str, str]:
    """Topics of this module only: the consumer reads nothing other tests produced."""
    suffix = secrets.token_hex(4)
    names = ("clients", "tickets", "sla", "releases", "monitors")
    return {name: f"test.sla.{name}.{suffix}" for name in names}


@pytest.fixture(scope="module")
async def sla_app(sla_database_url: str, sla_topics: dict[str, str]) -> AsyncIterator[FastAPI]:
    await ensure_topics(kafka_bootstrap_servers(), partitions=6, replication_factor=1)
    await ensure_topics(
        kafka_bootstrap_servers(),
        partitions=2,
        replication_factor=1,
        topics=tuple(sla_topics.values()),
    )
    settings = SlaSettings(
        common=common_settings_for(sla_database_url),
        consumer_group=f"aftercare-sla-test-{secrets.token_hex(4)}",
        clients_topic=sla_topics["clients"],
        tickets_topic=sla_topics["tickets"],
        report_topics=[sla_topics["sla"], sla_topics["releases"], sla_topics["monitors"]],
        timer_poll_seconds=0.2,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


@pytest.fixture(scope="module")
async def api(sla_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(sla_app) as client:
        yield client


@pytest.fixture(scope="module")
async def app_sessions(
    sla_app: FastAPI, sla_database_url: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the running app's database (the test's own engine, not the app's)."""
    engine = create_engine(sla_database_url, pool_size=2, application_name="aftercare-sla-test")
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def fresh_sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a database of this test alone, with no app (and no timer job) on it."""
    url = await create_migrated_database("sla", prefix="slaflow")
    engine = create_engine(url, pool_size=2, application_name="aftercare-sla-test")
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(url)
