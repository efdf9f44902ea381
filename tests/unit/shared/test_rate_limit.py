"""Token buckets per API key."""

from __future__ import annotations

import pytest

from aftercare_shared.problems import Problem
from aftercare_shared.rate_limit import RateLimiter


def test_burst_then_sustained_rate() -> None:
    limiter = RateLimiter(rate_per_second=2, burst=3)
    assert [limiter.retry_after("k", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("k", now=0.0) == pytest.approx(0.5)
    assert limiter.retry_after("k", now=0.5) == 0.0  # one token refilled after 0.5 s


def test_keys_do_not_share_buckets() -> None:
    limiter = RateLimiter(rate_per_second=1, burst=1)
    assert limiter.retry_after("a", now=0.0) == 0.0
    assert limiter.retry_after("b", now=0.0) == 0.0
    assert limiter.retry_after("a", now=0.0) > 0


def test_check_raises_429_with_retry_after() -> None:
    limiter = RateLimiter(rate_per_second=0.1, burst=1)
    limiter.check("k")
    with pytest.raises(Problem) as limited:
        limiter.check("k")
    assert limited.value.status == 429
    assert limited.value.headers["Retry-After"] == "10"


def test_forgets_least_recent_keys_beyond_its_bound() -> None:
    limiter = RateLimiter(rate_per_second=1, burst=1, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.retry_after(key, now=0.0)
    # "a" was forgotten, so it starts again with a full bucket.
    assert limiter.retry_after("a", now=0.0) == 0.0
