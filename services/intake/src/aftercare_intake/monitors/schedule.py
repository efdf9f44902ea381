"""When a monitor's next check-in is expected: a crontab line in the monitor's IANA zone,
or a fixed interval.

Cron expressions are read by ``cronsim`` (the library Healthchecks.io uses), never by a
parser of our own; times are computed in the monitor's zone, so ``0 3 * * *`` in
Europe/Berlin means 03:00 Berlin time on both sides of a DST change (a time the change
skips is run at the first existing instant after it, a repeated one once).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from aftercare_intake.errors import InvalidScheduleError

ScheduleType = Literal["crontab", "interval"]
SCHEDULE_TYPES: tuple[ScheduleType, ...] = get_args(ScheduleType)
IntervalUnit = Literal["minute", "hour", "day", "week", "month"]
INTERVAL_UNITS: tuple[IntervalUnit, ...] = get_args(IntervalUnit)

MAX_INTERVAL = timedelta(days=5 * 366)
"""Longer intervals are refused: nobody waits that long for a check-in, and the date
arithmetic would leave the calendar."""

_FIXED_UNITS: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a 422 naming it when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidScheduleError(
            f"{name!r} is not an IANA time zone.", field="timezone"
        ) from None


@dataclass(frozen=True, slots=True)
class Schedule:
    type: ScheduleType
    crontab: str | None = None
    interval: int | None = None
    unit: IntervalUnit | None = None
    timezone: str = "UTC"

    @classmethod
    def checked(
        cls,
        *,
        type: ScheduleType,
        value: str | int,
        unit: IntervalUnit | None,
        timezone: str,
    ) -> Schedule:
        """A schedule whose expression, interval and zone are all valid, else a 422."""
        zone = zone_of(timezone)
        if type == "crontab":
            expression = str(value).strip()
            try:
                CronSim(expression, datetime(2026, 1, 1, tzinfo=zone))
            except (CronSimError, ValueError) as error:
                raise InvalidScheduleError(
                    f"{expression!r} is not a valid crontab expression ({error}).",
                    field="schedule.value",
                ) from None
            return cls(type="crontab", crontab=expression, timezone=timezone)
        if isinstance(value, str) and not value.strip().isdigit():
            raise InvalidScheduleError(
                f"An interval is a whole number of units, not {value!r}.", field="schedule.value"
            )
        amount = int(value)
        if amount < 1:
            raise InvalidScheduleError("An interval is at least 1.", field="schedule.value")
        if unit is None:
            raise InvalidScheduleError(
                "An interval schedule names its unit (minute, hour, day, week, month).",
                field="schedule.unit",
            )
        schedule = cls(type="interval", interval=amount, unit=unit, timezone=timezone)
        if schedule.period > MAX_INTERVAL:
            raise InvalidScheduleError(
                f"An interval of {amount} {unit}s is longer than five years.",
                field="schedule.value",
            )
        return schedule

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time strictly after ``moment`` (UTC)."""
        if self.type == "crontab":
            assert self.crontab is not None
            zone = ZoneInfo(self.timezone)
            local = moment.astimezone(zone)
            following = next(iter(CronSim(self.crontab, local)))
            return following.astimezone(UTC)
        return self.add_interval(moment)

    def add_interval(self, moment: datetime) -> datetime:
        assert self.interval is not None
        assert self.unit is not None
        if self.unit == "month":
            zone = ZoneInfo(self.timezone)
            return _add_months(moment.astimezone(zone), self.interval).astimezone(UTC)
        return (moment + _FIXED_UNITS[self.unit] * self.interval).astimezone(UTC)

    @property
    def period(self) -> timedelta:
        """Roughly how far apart two runs are (for jitter and availability only)."""
        if self.type == "interval":
            assert self.interval is not None
            assert self.unit is not None
            if self.unit == "month":
                return timedelta(days=30 * self.interval)
            return _FIXED_UNITS[self.unit] * self.interval
        start = datetime(2026, 1, 5, tzinfo=UTC)
        first = self.next_after(start)
        return self.next_after(first) - first


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
