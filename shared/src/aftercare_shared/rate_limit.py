"""Token buckets per key, shared by every replica: bursts are fine, floods get 429.

Each bucket is one row of the service's ``rate_buckets`` table, taken from with one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per request: the statement refills the
bucket for the time since its last use (at ``rate_per_second``, up to ``burst``), takes a
token when there is one, and says whether it did. Postgres' row lock serialises the
replicas' takes, so two (or ten) replicas together let a key through at the configured
rate plus one burst, never that per replica. Time is the database's clock, the one clock
all replicas share. The statement runs on the request's own session, which commits at once
so the row lock is held for the statement alone.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from alembic import op
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.problems import Problem

TABLE_NAME = "rate_buckets"


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("bucket_key", sa.Text, nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("refilled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allowed", sa.Boolean, nullable=False),
    ]


def rate_buckets_table(metadata: MetaData) -> Table:
    return Table(
        TABLE_NAME,
        metadata,
        *_columns(),
        sa.PrimaryKeyConstraint("bucket_key", name="pk_" + TABLE_NAME),
    )


def create_rate_buckets_table(schema: str) -> None:
    op.create_table(
        TABLE_NAME,
        *_columns(),
        sa.PrimaryKeyConstraint("bucket_key", name="pk_" + TABLE_NAME),
        schema=schema,
    )


def drop_rate_buckets_table(schema: str) -> None:
    op.drop_table(TABLE_NAME, schema=schema)


_REFILL_AND_TAKE = """
INSERT INTO {schema}.rate_buckets AS bucket (bucket_key, tokens, refilled_at, allowed)
VALUES (:key, :burst - 1, statement_timestamp(), true)
ON CONFLICT (bucket_key) DO UPDATE SET
    tokens = CASE WHEN {available} >= 1 THEN {available} - 1 ELSE {available} END,
    allowed = {available} >= 1,
    refilled_at = statement_timestamp()
RETURNING allowed, tokens
"""
_AVAILABLE = (
    "LEAST(CAST(:burst AS float8), bucket.tokens + :rate * GREATEST(0, "
    "EXTRACT(EPOCH FROM statement_timestamp() - bucket.refilled_at)))"
)


class RateLimiter:
    """One kind of bucket (``name``) per key, in the service's ``rate_buckets`` table."""

    def __init__(self, *, schema: str, name: str, rate_per_second: float, burst: int) -> None:
        self._name = name
        self._rate = rate_per_second
        self._burst = burst
        self._statement = sa.text(_REFILL_AND_TAKE.format(schema=schema, available=_AVAILABLE))

    async def retry_after(self, session: AsyncSession, key: str) -> float:
        """Take a token for ``key``: 0 when allowed, else seconds until one is available.

        Commits the session: call it before the request's own work, not inside it.
        """
        row = (
            await session.execute(
                self._statement,
                {"key": f"{self._name}:{key}", "burst": self._burst, "rate": self._rate},
            )
        ).one()
        await session.commit()
        allowed, tokens = bool(row[0]), float(row[1])
        return 0.0 if allowed else max(0.0, (1.0 - tokens) / self._rate)

    async def check(self, session: AsyncSession, key: str) -> None:
        """Raise a 429 problem when ``key`` is over its rate."""
        wait = await self.retry_after(session, key)
        if wait > 0:
            raise Problem(
                429,
                f"Too many requests for this API key; retry in {math.ceil(wait)} s.",
                problem_type=PROBLEM_BASE_URI + "rate-limited",
                headers={"Retry-After": str(math.ceil(wait))},
            )
