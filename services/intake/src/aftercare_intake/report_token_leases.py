"""Rate-limit tokens the report fast path takes a few at a time and spends in process.

Why this exists: the fast path took one token from each of a key's two shared buckets
(``client:…``, ``report:…``) in a statement and a transaction of its own for every report
(the bucket rows' locks must not be held through the report's WAL flush, see
:mod:`aftercare_intake.report_fast_path`): a third of its round trips, and a commit, per
report. Taking a *lease* of several tokens at once from the shared bucket row and spending
them here makes that statement rare, while the shared bucket still counts every token: a
key never gets more tokens than its buckets grant, only some of them a little earlier.

The bound: a lease is at most a sixteenth of the burst (at most 64 tokens), and a process
asks for a new one only when a bucket's lease is spent, so each replica holds fewer than
two leases of a bucket; a key may go over its rate, in any window, by what its replicas
hold — under an eighth of its burst each. With a burst under 32 a lease is one token:
exactly the per-report take. A lease is all or nothing (``refill_and_take_sql``'s
``take``); when a bucket holds less than a lease, the fast path takes single tokens as
before, so a key at its limit gets the same 429s and ``Retry-After`` as on the ordinary
route. A revoked key's leased tokens are refused anyway: the report's own statement
re-checks the key.
"""

from __future__ import annotations

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
