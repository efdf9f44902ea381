"""The one clock: the system's by default, frozen and moved by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aftercare_shared.clock import FrozenClock, SystemClock, current_clock, use_clock, utc_now


def test_the_default_clock_is_the_system_clock_in_utc() -> None:
    assert isinstance(current_clock(), SystemClock)
    now = utc_now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_frozen_clock_holds_still_until_moved_and_is_restored_after() -> None:
    at = datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    with use_clock(FrozenClock(at)) as clock:
        assert utc_now() == at
        assert utc_now().tzinfo is UTC
        assert isinstance(clock, FrozenClock)
        clock.advance(timedelta(minutes=5))
        assert utc_now() == at + timedelta(minutes=5)
    assert isinstance(current_clock(), SystemClock)


def test_a_naive_instant_cannot_be_frozen() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 12, 1, 10, 0))
