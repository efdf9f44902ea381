"""The one clock every service reads: ``utc_now()``; tests freeze or move it.

Business rules (SLA deadlines, retention, retry schedules, token expiry) all ask this
module for the time, so a test can pin the whole process to one instant with
:func:`use_clock` instead of patching a module-level ``datetime`` in each service.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a frozen clock needs a timezone-aware instant")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, by: timedelta) -> None:
        self._at += by


_current: Clock = SystemClock()


def utc_now() -> datetime:
    """Now, as the process's clock sees it (the system clock unless a test froze it)."""
    return _current.now()


def current_clock() -> Clock:
    return _current


ClockT = TypeVar("ClockT", bound=Clock)


@contextmanager
def use_clock(clock: ClockT) -> Iterator[ClockT]:
    """Make ``clock`` the process's clock for the ``with`` block."""
    global _current
    previous, _current = _current, clock
    try:
        yield clock
    finally:
        _current = previous
