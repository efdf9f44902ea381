"""A calendar's business hours as sorted UTC spans, built per local year and cached.

Every interval of every local date is resolved to UTC once (see ``wall_clock``), touching
spans are merged, and a running total of business time is kept beside them. Adding
business time or measuring it is then a binary search per year crossed, so the cost grows
with the years a computation spans, never with its minutes or days; a year is built the
first time it is needed (a few milliseconds) and reused by every later computation on an
equal calendar.

All instants here are integer microseconds since the Unix epoch.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate

from aftercare_shared.business_time.calendar import BusinessCalendar, CalendarError
from aftercare_shared.business_time.wall_clock import resolve_wall_time

# Weekly hours are never empty (validated), so only holidays and overrides can close a
# whole year; more than this many closed years in a row means the target is unreachable.
_MAX_CLOSED_YEARS = 10
_MEAN_YEAR_MICROSECONDS = 31_556_952_000_000  # 365.2425 days


@dataclass(frozen=True, slots=True)
class YearSpans:
    """The business spans of the intervals starting on one local year's dates.

    ``cumulative[i]`` is the business time in the spans before span ``i``, so it has one
    more entry than there are spans.
    """

    opens: list[int]
    closes: list[int]
    cumulative: list[int]

    def business_before(self, moment: int) -> int:
        """Business time in these spans that lies before ``moment``."""
        index = bisect_right(self.opens, moment) - 1
        if index < 0:
            return 0
        return self.cumulative[index] + min(moment, self.closes[index]) - self.opens[index]


class Timeline:
    """The business spans of one calendar, year by year.

    Spans of local year ``y`` all come after those of year ``y - 1``: intervals do not
    overlap in wall time and the wall-to-UTC mapping is monotonic. A span of year ``y``
    opens no earlier than the first instant of local 1 January ``y``, and can reach into
    ``y + 1`` only through a night shift starting on 31 December.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self._calendar = calendar
        self._years: dict[int, YearSpans] = {}
        self._year_starts: dict[int, int] = {}
        self._spill_limits: dict[int, int] = {}

    def year(self, year: int) -> YearSpans:
        spans = self._years.get(year)
        if spans is None:
            spans = self._years[year] = self._build_year(year)
        return spans

    def _build_year(self, year: int) -> YearSpans:
        opens: list[int] = []
        closes: list[int] = []
        if year >= 1:
            calendar, zone = self._calendar, self._calendar.zone
            first_day = date(year, 1, 1).toordinal()
            last_day = date(year, 12, 31).toordinal()
            for ordinal in range(first_day, last_day + 1):
                day = date.fromordinal(ordinal)
                day_hours = calendar.hours_on(day)
                if not day_hours:
                    continue
                midnight = datetime(day.year, day.month, day.day)
                for interval in day_hours:
                    open_at = resolve_wall_time(
                        midnight + timedelta(minutes=interval.start_minute), zone
                    )
                    close_at = resolve_wall_time(
                        midnight + timedelta(minutes=interval.end_offset_minutes), zone
                    )
                    if close_at <= open_at:
                        continue  # the whole interval fell inside a spring-forward gap
                    if closes and closes[-1] == open_at:
                        closes[-1] = close_at  # e.g. 24x7, or a night shift meeting the day
                    else:
                        opens.append(open_at)
                        closes.append(close_at)
        cumulative = list(
            accumulate(
                (close - open_ for open_, close in zip(opens, closes, strict=True)), initial=0
            )
        )
        return YearSpans(opens, closes, cumulative)

    def year_start(self, year: int) -> int:
        """The earliest instant any span of ``year`` can open: local 1 January, 00:00."""
        start = self._year_starts.get(year)
        if start is None:
            start = self._year_starts[year] = resolve_wall_time(
                datetime(year, 1, 1), self._calendar.zone
            )
        return start

    def year_of(self, moment: int) -> int:
        """The last year whose local 1 January 00:00 is at or before ``moment``: its local
        year, worked out from the cached year starts rather than a zone conversion."""
        # A guess from the mean Gregorian year, off by at most one year, then corrected.
        year = 1970 + moment // _MEAN_YEAR_MICROSECONDS
        while self.year_start(year) > moment:
            year -= 1
        while self.year_start(year + 1) <= moment:
            year += 1
        return year

    def first_year_reaching(self, moment: int) -> int:
        """The earliest year that can have a span ending after ``moment``.

        A year's spans end by local 2 January 00:00 of the next year (a night shift
        starting on 31 December), so year ``y - 1`` only matters for moments before
        2 January of ``y``; earlier years never do.
        """
        year = self.year_of(moment)
        spill_limit = self._spill_limits.get(year)
        if spill_limit is None:
            spill_limit = self._spill_limits[year] = resolve_wall_time(
                datetime(year, 1, 2), self._calendar.zone
            )
        return year - 1 if moment < spill_limit else year

    def _years_reaching(self, start: int, end: int) -> Iterator[YearSpans]:
        """The years whose spans may meet ``[start, end]``, in order; spans of a year
        after ``end``'s open after ``end``."""
        for year in range(self.first_year_reaching(start), self.year_of(end) + 1):
            yield self.year(year)

    def is_open(self, moment: int) -> bool:
        for spans in self._years_reaching(moment, moment):
            index = bisect_right(spans.opens, moment) - 1
            if index >= 0 and moment < spans.closes[index]:
                return True
        return False

    def elapsed(self, start: int, end: int) -> int:
        """Business time in ``[start, end)``; ``start <= end``."""
        total = 0
        for spans in self._years_reaching(start, end):
            if spans.opens and spans.closes[-1] > start and spans.opens[0] < end:
                total += spans.business_before(end) - spans.business_before(start)
        return total

    def advance(self, start: int, amount: int) -> int:
        """The earliest moment by which ``amount`` of business time has passed since
        ``start``; for ``amount == 0``, the first open moment at or after ``start``.

        Ending exactly at a close returns the close, not the next opening.
        """
        year = self.first_year_reaching(start)
        cursor, remaining = start, amount
        closed_years = 0
        while True:
            spans = self.year(year)
            opens, closes, cumulative = spans.opens, spans.closes, spans.cumulative
            index = bisect_right(closes, cursor)  # the first span still open after cursor
            if index < len(opens):
                closed_years = 0
                begin = max(opens[index], cursor)
                in_first_span = closes[index] - begin
                if remaining <= in_first_span:
                    return begin + remaining
                # Business time is counted from the start of this year's spans, so the
                # target is a running total, found by bisection over the later spans.
                target = cumulative[index + 1] + remaining - in_first_span
                reached = bisect_left(cumulative, target, index + 2)
                if reached < len(cumulative):
                    span = reached - 1
                    return opens[span] + target - cumulative[span]
                remaining = target - cumulative[-1]
                cursor = closes[-1]
            elif not opens:
                closed_years += 1
                if closed_years > _MAX_CLOSED_YEARS:
                    raise CalendarError(
                        f"the calendar has no business hours for {_MAX_CLOSED_YEARS} years "
                        f"in a row from {year - _MAX_CLOSED_YEARS}"
                    )
            year += 1

    def spans(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """The open spans within ``[start, end)``, clipped, touching spans merged."""
        pending: tuple[int, int] | None = None
        for spans in self._years_reaching(start, end):
            opens, closes = spans.opens, spans.closes
            for index in range(bisect_right(closes, start), len(opens)):
                if opens[index] >= end:
                    break
                clipped = (max(opens[index], start), min(closes[index], end))
                if pending is None:
                    pending = clipped
                elif pending[1] == clipped[0]:
                    pending = (pending[0], clipped[1])
                else:
                    yield pending
                    pending = clipped
        if pending is not None:
            yield pending


@functools.lru_cache(maxsize=256)
def timeline_for(calendar: BusinessCalendar) -> Timeline:
    """The shared timeline of a calendar; equal calendars share one."""
    return Timeline(calendar)
