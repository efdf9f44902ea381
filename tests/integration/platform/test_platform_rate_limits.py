"""Token buckets in Postgres: two replicas of intake, one key, one budget (burst + rate)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import MetaData, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.problems import Problem
from aftercare_shared.rate_limit import RateLimiter, rate_buckets_table
from devkit.databases import create_migrated_database, drop_database
from tests.integration.intake.intake_support import client_with_key
from tests.integration.platform.service_apps import build_app
from tests.support.asgi import serving

BURST = 5
# Slow enough that no token comes back during the test, however loaded the machine.
RATE_PER_SECOND = 0.01


@pytest.fixture
async def intake_database() -> AsyncIterator[str]:
    url = await create_migrated_database(ServiceName.INTAKE, prefix="ratelimit")
    yield url
    await drop_database(url)


@pytest.fixture
async def sessions(intake_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(intake_database, pool_size=2, application_name="rate-limit-test")
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def test_two_replicas_share_one_budget_per_key(intake_database: str) -> None:
    limits = {"client_rate_per_second": RATE_PER_SECOND, "client_rate_burst": BURST}
    first = build_app(ServiceName.INTAKE, intake_database, **limits)
    second = build_app(ServiceName.INTAKE, intake_database, **limits)
    async with (
        serving(first, base_url="http://intake-1") as replica_1,
        serving(second, base_url="http://intake-2") as replica_2,
    ):
        _, key = await client_with_key(replica_1)
        auth = {"Authorization": f"Bearer {key}"}
        # Both replicas at once, many times the burst between them.
        answers = await asyncio.gather(
            *(
                (replica_1 if index % 2 else replica_2).get("/v1/tickets", headers=auth)
                for index in range(4 * BURST)
            )
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == BURST, statuses  # per replica it would be 2 x BURST
    assert statuses.count(429) == 3 * BURST
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1


async def test_a_bucket_refills_at_its_rate_and_keys_do_not_share(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # One token per 100 s, so none comes back while the test runs, however loaded the
    # machine; the refill is proven by moving the bucket's last refill 100 s back.
    limiter = RateLimiter(
        schema=schema_of(ServiceName.INTAKE), name="test", rate_per_second=0.01, burst=2
    )
    async with sessions() as session:
        assert [await limiter.retry_after(session, "a") for _ in range(2)] == [0.0, 0.0]
        wait = await limiter.retry_after(session, "a")
        assert 50 < wait <= 100  # 100 s per token, less what trickled in meanwhile
        assert await limiter.retry_after(session, "b") == 0.0
        await age_bucket(session, "test:a", seconds=100)
        assert await limiter.retry_after(session, "a") == 0.0
        with pytest.raises(Problem) as limited:
            await limiter.check(session, "a")
    assert limited.value.status == 429
    assert 50 < int(limited.value.headers["Retry-After"]) <= 100


async def age_bucket(session: AsyncSession, bucket_key: str, *, seconds: float) -> None:
    """As if ``seconds`` had passed since the bucket was last refilled."""
    buckets = rate_buckets_table(MetaData(schema=schema_of(ServiceName.INTAKE)))
    await session.execute(
        update(buckets)
        .where(buckets.c.bucket_key == bucket_key)
        .values(refilled_at=buckets.c.refilled_at - timedelta(seconds=seconds))
    )
    await session.commit()
