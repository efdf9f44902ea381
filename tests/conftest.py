"""Fixtures every test layer shares: the test stack's addresses and fresh databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aftercare_shared.settings import CommonSettings
from devkit.databases import (
    admin_token,
    create_database,
    drop_database,
    kafka_bootstrap_servers,
)


@pytest.fixture
async def empty_database_url() -> AsyncIterator[str]:
    """A brand-new empty database, dropped after the test."""
    url = await create_database()
    yield url
    await drop_database(url)


def common_settings_for(database_url: str, **overrides: object) -> CommonSettings:
    return CommonSettings(
        environment="test",
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers(),
        admin_token=admin_token(),
        outbox_poll_interval_seconds=0.2,
        consumer_retry_backoff_seconds=0.05,
        log_format="console",
        **overrides,  # type: ignore[arg-type]
    )
