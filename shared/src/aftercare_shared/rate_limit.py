"""Per-key token buckets: bursts are fine, sustained floods get 429 + Retry-After.

In-process, so each replica enforces its own share; a shared store (Redis, Postgres) is
the next step when one replica per key is not enough.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.problems import Problem


@dataclass(slots=True)
class _Bucket:
    tokens: float
    refilled_at: float


class RateLimiter:
    def __init__(self, *, rate_per_second: float, burst: int, max_keys: int = 100_000) -> None:
        self._rate = rate_per_second
        self._burst = burst
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def retry_after(self, key: str, *, now: float | None = None) -> float:
        """Take a token for ``key``: 0 when allowed, else seconds until one is available."""
        current = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self._burst), refilled_at=current)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)  # forget the least recently seen key
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, current - bucket.refilled_at)
            bucket.tokens = min(float(self._burst), bucket.tokens + elapsed * self._rate)
            bucket.refilled_at = current
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate

    def check(self, key: str) -> None:
        """Raise a 429 problem when ``key`` is over its rate."""
        wait = self.retry_after(key)
        if wait > 0:
            raise Problem(
                429,
                f"Too many requests for this API key; retry in {math.ceil(wait)} s.",
                problem_type=PROBLEM_BASE_URI + "rate-limited",
                headers={"Retry-After": str(math.ceil(wait))},
            )
