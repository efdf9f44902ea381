"""Rate-limit tokens taken from shared buckets a few at a time and spent in process.

Why this exists: a report (REST, by the fast path) or a Sentry envelope (by its route)
took one token from each of its key's two shared buckets in a statement and a
transaction of its own (the bucket rows' locks must not be held through the report's WAL
flush, see :mod:`aftercare_intake.report_fast_path`): a third of the fast path's round
trips and a commit per report, two statements and a commit per envelope. Taking a *lease*
of several tokens at once from the shared bucket row and spending them here makes that
statement rare, while the shared bucket still counts every token: a key never gets more
tokens than its buckets grant, only some of them a little earlier.

The bound: a lease is at most a sixteenth of the burst (at most 64 tokens), and a process
asks for a new one only when a bucket's lease is spent, so each replica holds fewer than
two leases of a bucket; a key may go over its rate, in any window, by what its replicas
hold — under an eighth of its burst each. With a burst under 32 a lease is one token:
exactly the per-request take. A lease is all or nothing (``refill_and_take_sql``'s
``take``); when a bucket holds less than a lease, single tokens are taken as before, so
a key at its limit gets the same 429s and ``Retry-After`` as without leases. A revoked
key's leased tokens are refused anyway: the fast path's own statement re-checks the key,
and the Sentry route looks its key up on every envelope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import text

from aftercare_intake.models import SCHEMA
from aftercare_shared.rate_limit import RateLimiter, refill_and_take_sql

LEASE_SHARE_OF_BURST = 16
"""A lease is at most ``burst // LEASE_SHARE_OF_BURST`` tokens…"""
MAX_LEASE = 64
"""…and at most this many: more saves little (one statement per 64 reports)."""
_MAX_BUCKETS = 8192
"""Buckets remembered per process; past it the unspent leases are forgotten (tokens lost,
never gained)."""


def lease_size(burst: int) -> int:
    """How many tokens to take at once from a bucket of ``burst``."""
    return max(1, min(MAX_LEASE, burst // LEASE_SHARE_OF_BURST))


class TokenLeases:
    """Tokens taken from shared buckets and not spent yet, per bucket key, in this process.

    Not locked: the event loop runs one coroutine at a time and no method awaits.
    """

    def __init__(self) -> None:
        self._left: dict[str, int] = {}

    def spend(self, first: str, second: str) -> bool:
        """Spend one token of each bucket if both have one left here; else spend none."""
        left = self._left
        if left.get(first, 0) < 1 or left.get(second, 0) < 1:
            return False
        left[first] -= 1
        left[second] -= 1
        return True

    def keep(self, bucket_key: str, tokens: int) -> None:
        """Keep ``tokens`` taken from ``bucket_key`` for the next reports."""
        if tokens <= 0:
            return
        if bucket_key not in self._left and len(self._left) >= _MAX_BUCKETS:
            self._left.clear()
        self._left[bucket_key] = self._left.get(bucket_key, 0) + tokens

    def forget(self, *bucket_keys: str) -> None:
        """Drop what is left of these buckets' leases (their key is no longer live)."""
        for bucket_key in bucket_keys:
            self._left.pop(bucket_key, None)

    def left(self, bucket_key: str) -> int:
        """Tokens of ``bucket_key`` left here (for tests and metrics)."""
        return self._left.get(bucket_key, 0)


# The key, re-checked live by id, and both buckets' tokens — a lease of several, or one —
# each only if the step before allowed it, in a statement committed on its own: holding
# the bucket rows' locks until a report's own commit would serialise each key's reports
# through the WAL flush. The take commits asynchronously (set_config(…, true) sets it for
# this statement's transaction alone): a crash can lose a take, never a report, and the
# row lock is released without waiting for the flush.
TAKE_STATEMENT = text(
    f"""
    WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
    live_key AS (
        SELECT api_key.id FROM {SCHEMA}.api_keys AS api_key
        WHERE api_key.id = :api_key_id AND api_key.revoked_at IS NULL
          AND (api_key.expires_at IS NULL OR api_key.expires_at > CAST(:now AS timestamptz))
    ),
    first_take AS ({
        refill_and_take_sql(
            SCHEMA,
            key=":first_bucket",
            burst=":first_burst",
            rate=":first_rate",
            gate="live_key",
            take="CAST(:first_take AS float8)",
        )
    }),
    second_take AS ({
        refill_and_take_sql(
            SCHEMA,
            key=":second_bucket",
            burst=":second_burst",
            rate=":second_rate",
            gate="first_take WHERE first_take.allowed",
            take="CAST(:second_take AS float8)",
        )
    })
    SELECT live_key.id IS NOT NULL AS key_live,
        first_take.allowed AS first_allowed, first_take.tokens AS first_tokens,
        second_take.allowed AS second_allowed, second_take.tokens AS second_tokens
    FROM async_commit
    LEFT JOIN live_key ON true
    LEFT JOIN first_take ON true
    LEFT JOIN second_take ON true
    """  # noqa: S608 - formats in constants only (schema, parameter and CTE names)
)

RunTake = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""Runs :data:`TAKE_STATEMENT` with these parameters and commits; its one row."""

KEY_GONE: Final = "key-gone"
"""What :func:`take_leased` answers when the key was revoked or has expired."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One of the two buckets a request takes from: its kind and its row."""

    limiter: RateLimiter
    key: str

    @classmethod
    def of(cls, limiter: RateLimiter, key: str) -> Bucket:
        return cls(limiter, limiter.bucket_key(key))


@dataclass(frozen=True, slots=True)
class Refused:
    """The bucket that had no token (the first one refused first) and its wait."""

    bucket: Bucket
    retry_after: float


async def take_leased(
    leases: TokenLeases,
    run: RunTake,
    *,
    api_key_id: str,
    first: Bucket,
    second: Bucket,
    now: datetime,
) -> Refused | Literal["key-gone"] | None:
    """Spend a token of both buckets: from this process's leases when it holds one of
    each, else from the shared rows — a lease of each, kept here for the next requests,
    or one when a bucket holds less than a lease. None when taken."""
    if leases.spend(first.key, second.key):
        return None
    sizes = (lease_size(first.limiter.burst), lease_size(second.limiter.burst))
    attempts = [sizes] if sizes == (1, 1) else [sizes, (1, 1)]
    for first_take, second_take in attempts:
        taken = await run(
            {
                "api_key_id": api_key_id,
                "now": now,
                "first_bucket": first.key,
                "first_burst": first.limiter.burst,
                "first_rate": first.limiter.rate_per_second,
                "first_take": first_take,
                "second_bucket": second.key,
                "second_burst": second.limiter.burst,
                "second_rate": second.limiter.rate_per_second,
                "second_take": second_take,
            }
        )
        if not taken["key_live"]:
            leases.forget(first.key, second.key)
            return KEY_GONE
        if taken["first_allowed"] and taken["second_allowed"]:
            # This request spends one token of each; the rest wait for the next ones.
            leases.keep(first.key, first_take - 1)
            leases.keep(second.key, second_take - 1)
            return None
        if taken["first_allowed"] and first_take > 1:
            leases.keep(first.key, first_take)  # taken: spent by later requests
    if not taken["first_allowed"]:
        return Refused(first, first.limiter.retry_after_tokens(taken["first_tokens"]))
    return Refused(second, second.limiter.retry_after_tokens(taken["second_tokens"]))
