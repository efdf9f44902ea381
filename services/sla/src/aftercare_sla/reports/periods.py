"""Report periods: a month (``2026-11``) or a quarter (``2026-Q4``), in a time zone.

A period starts at local midnight of its first day in the client's plan time zone and
ends at local midnight of the day after its last (half-open), so a ticket opened at
00:30 in Europe/London on 1 November belongs to November even though it is 31 October
in UTC during summer time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from aftercare_sla.errors import InvalidPeriodError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Period:
    """``first`` inclusive, ``after`` exclusive: local calendar days."""

    label: str
    first: date
    after: date

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """The period's start and end instants (UTC-comparable, aware) in ``timezone``."""
        zone = ZoneInfo(timezone)
        return (
            datetime(self.first.year, self.first.month, self.first.day, tzinfo=zone),
            datetime(self.after.year, self.after.month, self.after.day, tzinfo=zone),
        )

    def previous(self) -> Period:
        months = _months(self)
        return _period_of(_add_months(self.first, -months), months)


def _months(period: Period) -> int:
    return (period.after.year - period.first.year) * 12 + period.after.month - period.first.month


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _period_of(first: date, months: int) -> Period:
    if months == 1:
        label = f"{first.year:04d}-{first.month:02d}"
    else:
        label = f"{first.year:04d}-Q{(first.month - 1) // 3 + 1}"
    return Period(label=label, first=first, after=_add_months(first, months))


def parse_period(text: str) -> Period:
    """``YYYY-MM`` or ``YYYY-Qn``; anything else is an :class:`InvalidPeriodError`."""
    if month := _MONTH.match(text):
        return _period_of(date(int(month[1]), int(month[2]), 1), 1)
    if quarter := _QUARTER.match(text):
        return _period_of(date(int(quarter[1]), (int(quarter[2]) - 1) * 3 + 1, 1), 3)
    raise InvalidPeriodError(text)


def month_containing(moment: datetime, timezone: str) -> Period:
    local = moment.astimezone(ZoneInfo(timezone))
    return _period_of(date(local.year, local.month, 1), 1)
