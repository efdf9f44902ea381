"""Fixtures every test layer shares: the test stack's addresses and fresh databases."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings as hypothesis_settings

from aftercare_shared.settings import CommonSettings
from devkit.databases import (
    admin_token,
    create_database,
    drop_database,
    kafka_bootstrap_servers,
)

# Hypothesis profiles, chosen by AFTERCARE_HYPOTHESIS_PROFILE (default `ci`, as in `make
# test`). `ci`: the same examples on every run (derandomized), no example database to
# carry between runs, the statistics printed at the end. `dev`: random examples, failures
# remembered in the local .hypothesis/ database, to explore further.
HYPOTHESIS_PROFILES = ("ci", "dev")
hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True, deadline=None
)
hypothesis_settings.register_profile("dev", derandomize=False, deadline=None)
HYPOTHESIS_PROFILE = os.environ.get("AFTERCARE_HYPOTHESIS_PROFILE", "ci")
if HYPOTHESIS_PROFILE not in HYPOTHESIS_PROFILES:
    raise pytest.UsageError(
        f"AFTERCARE_HYPOTHESIS_PROFILE={HYPOTHESIS_PROFILE!r}: use one of {HYPOTHESIS_PROFILES}"
    )
hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    if HYPOTHESIS_PROFILE == "ci":
        config.option.hypothesis_show_statistics = True  # --hypothesis-show-statistics


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
