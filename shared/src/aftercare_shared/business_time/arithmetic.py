"""Business-time arithmetic on a ``BusinessCalendar``: the one place it lives.

Every function takes timezone-aware datetimes (any zone) and answers in UTC. Business
hours are half-open, ``[open, close)``: an instant at the close is closed.

- A computation that starts outside business hours counts from the next opening.
- A due time that is reached exactly at a close is due at that close, not at the next
  opening; a zero duration is due at the first open instant at or after the start.
- Pauses are half-open ``[start, end)`` intervals; paused time never counts, they may
  overlap each other and extend beyond the range being measured.
- Hours are local wall time, resolved per date with zoneinfo (rule in ``wall_clock``):
  a business day spanning a spring-forward gap is shorter by the gap, one spanning a
  fall-back fold longer by the repeated time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Protocol

from aftercare_shared.business_time.calendar import BusinessCalendar
from aftercare_shared.business_time.timeline import timeline_for
from aftercare_shared.business_time.wall_clock import (
    from_microseconds,
    require_aware,
    to_microseconds,
)

Pause = tuple[datetime, datetime]
"""A paused stretch ``[start, end)``; both ends timezone-aware."""

_ONE_MICROSECOND = timedelta(microseconds=1)


class _BusinessClock(Protocol):
    """Business-time arithmetic in epoch microseconds."""

    def is_open(self, moment: int) -> bool: ...

    def elapsed(self, start: int, end: int) -> int: ...

    def advance(self, start: int, amount: int) -> int: ...

    def spans(self, start: int, end: int) -> Iterator[tuple[int, int]]: ...


class _AlwaysOpenClock:
    """24x7 with nothing closed: business time is plain elapsed time."""

    def is_open(self, moment: int) -> bool:
        return True

    def elapsed(self, start: int, end: int) -> int:
        return end - start

    def advance(self, start: int, amount: int) -> int:
        return start + amount

    def spans(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        if start < end:
            yield start, end


_ALWAYS_OPEN = _AlwaysOpenClock()


def _clock(calendar: BusinessCalendar) -> _BusinessClock:
    return _ALWAYS_OPEN if calendar.is_always_open else timeline_for(calendar)


def _instant(moment: datetime, name: str) -> int:
    require_aware(moment, name)
    return to_microseconds(moment)


def _amount(duration: timedelta) -> int:
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    return duration // _ONE_MICROSECOND


def _range(start: datetime, end: datetime) -> tuple[int, int]:
    start_at, end_at = _instant(start, "start"), _instant(end, "end")
    if end_at < start_at:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return start_at, end_at


def _merged_pauses(pauses: Iterable[Pause], not_before: int) -> list[tuple[int, int]]:
    """Pauses as sorted, disjoint spans, clipped to start no earlier than ``not_before``."""
    spans = []
    for pause_start, pause_end in pauses:
        start_at = _instant(pause_start, "pause start")
        end_at = _instant(pause_end, "pause end")
        if end_at < start_at:
            raise ValueError(
                f"pause ends ({pause_end.isoformat()}) before it starts ({pause_start.isoformat()})"
            )
        start_at = max(start_at, not_before)
        if start_at < end_at:
            spans.append((start_at, end_at))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start_at, end_at in spans:
        if merged and start_at <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end_at))
        else:
            merged.append((start_at, end_at))
    return merged


def is_open(calendar: BusinessCalendar, at: datetime) -> bool:
    """Whether ``at`` is inside business hours."""
    return _clock(calendar).is_open(_instant(at, "at"))


def next_open(calendar: BusinessCalendar, at: datetime) -> datetime:
    """``at`` itself (in UTC) when open, otherwise the next opening."""
    return from_microseconds(_clock(calendar).advance(_instant(at, "at"), 0))


def add_business_time(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The due time: the moment ``duration`` of business time has passed since ``start``."""
    start_at = _instant(start, "start")
    return from_microseconds(_clock(calendar).advance(start_at, _amount(duration)))


def business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Business time in ``[start, end)``; ``end`` must not be before ``start``."""
    start_at, end_at = _range(start, end)
    return timedelta(microseconds=_clock(calendar).elapsed(start_at, end_at))


def add_business_time_with_pauses(
    calendar: BusinessCalendar,
    start: datetime,
    duration: timedelta,
    pauses: Iterable[Pause],
) -> datetime:
    """Like ``add_business_time``, but business time inside a pause does not count."""
    clock = _clock(calendar)
    cursor = _instant(start, "start")
    remaining = _amount(duration)
    for pause_start, pause_end in _merged_pauses(pauses, not_before=cursor):
        available = clock.elapsed(cursor, pause_start) if pause_start > cursor else 0
        # available == 0 with nothing remaining still has to skip the pause: the clock
        # first runs after it, not at the pause start.
        if available > 0 and remaining <= available:
            return from_microseconds(clock.advance(cursor, remaining))
        remaining -= available
        cursor = max(cursor, pause_end)
    return from_microseconds(clock.advance(cursor, remaining))


def business_time_between_with_pauses(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    pauses: Iterable[Pause],
) -> timedelta:
    """Business time in ``[start, end)`` that lies outside every pause."""
    clock = _clock(calendar)
    start_at, end_at = _range(start, end)
    total = clock.elapsed(start_at, end_at)
    for pause_start, pause_end in _merged_pauses(pauses, not_before=start_at):
        if pause_start >= end_at:
            break
        total -= clock.elapsed(pause_start, min(pause_end, end_at))
    return timedelta(microseconds=total)


def open_intervals(
    calendar: BusinessCalendar, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The business hours within ``[start, end)`` as UTC ``(open, close)`` pairs, clipped
    to the range, in order, with touching intervals merged."""
    start_at, end_at = _range(start, end)  # validated now, not at the first iteration
    return (
        (from_microseconds(open_at), from_microseconds(close_at))
        for open_at, close_at in _clock(calendar).spans(start_at, end_at)
    )
