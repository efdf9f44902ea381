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
    from alembic import op  # migrations only: the running service never loads alembic

    op.create_table(
        TABLE_NAME,
        *_columns(),
        sa.PrimaryKeyConstraint("bucket_key", name="pk_" + TABLE_NAME),
        schema=schema,
    )


def drop_rate_buckets_table(schema: str) -> None:
    from alembic import op  # migrations only: the running service never loads alembic

    op.drop_table(TABLE_NAME, schema=schema)


def refill_and_take_sql(
    schema: str,
    *,
    key: str = ":key",
    burst: str = ":burst",
    rate: str = ":rate",
    gate: str | None = None,
    take: str = "1",
) -> str:
    """The bucket's one statement: refill for the time since its last use, take a token.

    Formats in the schema, parameter names and a CTE name only. ``key``, ``burst`` and
    ``rate`` name its parameters. With ``gate`` (a CTE's name) the
    bucket is taken only when that CTE has a row, so a caller can take it inside a larger
    statement (intake's report fast path takes its two buckets that way). ``take`` (a
    float8 expression, at most the burst) takes that many tokens at once, all or none:
    intake's fast path leases a few ahead (``aftercare_intake.report_token_leases``); 0
    only refills and reports ``allowed``.
    """
    available = (
        f"LEAST(CAST({burst} AS float8), bucket.tokens + {rate} * GREATEST(0, "
        "EXTRACT(EPOCH FROM statement_timestamp() - bucket.refilled_at)))"
    )
    rows = (
        f"SELECT {key}, {burst} - {take}, statement_timestamp(), true FROM {gate}"  # noqa: S608
        if gate
        else f"VALUES ({key}, {burst} - {take}, statement_timestamp(), true)"
    )
    return f"""
INSERT INTO {schema}.rate_buckets AS bucket (bucket_key, tokens, refilled_at, allowed)
{rows}
ON CONFLICT (bucket_key) DO UPDATE SET
    tokens = CASE WHEN {available} >= {take} THEN {available} - {take} ELSE {available} END,
    allowed = {available} >= {take},
    refilled_at = statement_timestamp()
RETURNING allowed, tokens
"""


class RateLimiter:
    """One kind of bucket (``name``) per key, in the service's ``rate_buckets`` table."""

    def __init__(self, *, schema: str, name: str, rate_per_second: float, burst: int) -> None:
        self._name = name
        self._rate = rate_per_second
        self._burst = burst
        self._statement = sa.text(refill_and_take_sql(schema))

    @property
    def rate_per_second(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    def bucket_key(self, key: str) -> str:
        """The ``rate_buckets`` row of ``key`` in this kind of bucket."""
        return f"{self._name}:{key}"

    def retry_after_tokens(self, tokens: float) -> float:
        """Seconds until a bucket left with ``tokens`` has a whole one again."""
        return max(0.0, (1.0 - tokens) / self._rate)

    @staticmethod
    def limited(wait: float) -> Problem:
        """The 429 a refused take answers."""
        return Problem(
            429,
            f"Too many requests for this API key; retry in {math.ceil(wait)} s.",
            problem_type=PROBLEM_BASE_URI + "rate-limited",
            headers={"Retry-After": str(math.ceil(wait))},
        )

    async def retry_after(self, session: AsyncSession, key: str) -> float:
        """Take a token for ``key``: 0 when allowed, else seconds until one is available.

        Commits the session: call it before the request's own work, not inside it.
        """
        row = (
            await session.execute(
                self._statement,
                {"key": self.bucket_key(key), "burst": self._burst, "rate": self._rate},
            )
        ).one()
        await session.commit()
        allowed, tokens = bool(row[0]), float(row[1])
        return 0.0 if allowed else self.retry_after_tokens(tokens)

    async def check(self, session: AsyncSession, key: str) -> None:
        """Raise a 429 problem when ``key`` is over its rate."""
        wait = await self.retry_after(session, key)
        if wait > 0:
            raise self.limited(wait)
