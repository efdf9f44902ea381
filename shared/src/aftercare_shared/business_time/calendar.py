"""The business calendar: when the SLA clock runs, in local wall time.

A calendar is an IANA time zone, weekly hours (intervals per weekday), holidays (explicit
dates and, optionally, a country's public holidays from the ``holidays`` package) and
date-specific overrides. It is validated when built, so every operation can rely on
intervals that never overlap.

Intervals belong to the local date they *start* on: a Friday 22:00-06:00 shift is
Friday's, even though it ends on Saturday. A holiday or an override on a date therefore
replaces the intervals starting that date and leaves the night shift that began the
evening before untouched. Precedence for a date: override, then holiday, then the weekly
hours.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""JSON keys of the weekdays, in ``date.weekday()`` order."""

MINUTES_PER_DAY = 24 * 60

_JSON_KEYS = frozenset(
    {"timezone", "hours", "holidays", "holiday_country", "holiday_subdivision", "overrides"}
)
_WALL_TIME = re.compile(r"(?P<hour>[01]\d|2[0-4]):(?P<minute>[0-5]\d)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CalendarError(ValueError):
    """A business calendar that cannot be built, with a message saying what to fix."""


def _format_minute(minute_of_day: int) -> str:
    hours, minutes = divmod(minute_of_day, 60)
    return f"{hours:02d}:{minutes:02d}"


@dataclass(frozen=True, slots=True, order=True)
class WallInterval:
    """Business hours ``[start, end)`` in local wall time, as minutes after midnight.

    ``end_minute`` is 1..1440 (1440 is "24:00", the midnight that ends the day). An end
    before the start means the interval crosses midnight into the next day.
    """

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise CalendarError(f"start minute {self.start_minute} is outside 00:00-23:59")
        if not 0 <= self.end_minute <= MINUTES_PER_DAY:
            raise CalendarError(f"end minute {self.end_minute} is outside 00:00-24:00")
        if self.end_minute == 0:
            # An end of 00:00 is the midnight that ends the day ("22:00"-"00:00" means
            # until midnight, "00:00"-"00:00" the whole day): store it as 24:00 so one
            # interval has one spelling and equal calendars compare equal.
            object.__setattr__(self, "end_minute", MINUTES_PER_DAY)
        if self.end_minute == self.start_minute:
            raise CalendarError(f"interval {self} is empty: its start and end are the same time")

    @classmethod
    def parse(cls, start: str, end: str) -> WallInterval:
        """Build from ``"HH:MM"`` strings; ``"24:00"`` is allowed as an end."""
        start_minute = _parse_wall_time(start, "start")
        if start_minute == MINUTES_PER_DAY:
            raise CalendarError("24:00 can only end an interval; start the day at 00:00")
        return cls(start_minute, _parse_wall_time(end, "end"))

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute < self.start_minute

    @property
    def end_offset_minutes(self) -> int:
        """The end, in minutes after the midnight that starts the interval's own date."""
        return self.end_minute + MINUTES_PER_DAY if self.crosses_midnight else self.end_minute

    def to_json(self) -> list[str]:
        return [_format_minute(self.start_minute), _format_minute(self.end_minute)]

    def __str__(self) -> str:
        return f"{_format_minute(self.start_minute)}-{_format_minute(self.end_minute)}"


DayHours = tuple[WallInterval, ...]


class DateOverride(NamedTuple):
    """Hours that replace the usual ones on one local date; no intervals = closed."""

    day: date
    hours: DayHours


_ALL_DAY: DayHours = (WallInterval(0, MINUTES_PER_DAY),)
ALWAYS_OPEN_WEEK: tuple[DayHours, ...] = (_ALL_DAY,) * 7


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When business time counts. The default instance is 24x7 in UTC.

    ``weekly_hours`` has seven entries, Monday first. Equal calendars are equal values
    and hash alike, so per-calendar caches are shared between equal instances.
    """

    timezone: str = "UTC"
    weekly_hours: tuple[DayHours, ...] = ALWAYS_OPEN_WEEK
    holidays: frozenset[date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    overrides: tuple[DateOverride, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _override_hours: dict[date, DayHours] = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_attribute = object.__setattr__
        set_attribute(self, "_zone", _load_zone(self.timezone))
        if len(self.weekly_hours) != len(WEEKDAYS):
            raise CalendarError(
                f"weekly hours need one entry per weekday (7), got {len(self.weekly_hours)}"
            )
        weekly_hours = tuple(tuple(sorted(day)) for day in self.weekly_hours)
        set_attribute(self, "weekly_hours", weekly_hours)
        if not any(weekly_hours):
            raise CalendarError(
                "business hours are empty: give at least one weekday some hours "
                "(a calendar with no 'hours' at all is 24x7)"
            )
        for weekday, day_hours in enumerate(weekly_hours):
            _check_day(WEEKDAYS[weekday], day_hours)
            next_weekday = (weekday + 1) % 7
            _check_spill(
                WEEKDAYS[weekday], day_hours, WEEKDAYS[next_weekday], weekly_hours[next_weekday]
            )
        self._set_overrides(weekly_hours)
        set_attribute(self, "holidays", frozenset(self.holidays))
        if self.holiday_country is not None:
            _check_holiday_country(self.holiday_country, self.holiday_subdivision)
        elif self.holiday_subdivision is not None:
            raise CalendarError("holiday_subdivision needs a holiday_country")
        # Asked on every operation, so worked out once.
        set_attribute(
            self,
            "_always_open",
            weekly_hours == ALWAYS_OPEN_WEEK
            and not self.holidays
            and self.holiday_country is None
            and not self.overrides,
        )
        set_attribute(
            self,
            "_hash",
            hash(
                (
                    self.timezone,
                    self.weekly_hours,
                    self.holidays,
                    self.holiday_country,
                    self.holiday_subdivision,
                    self.overrides,
                )
            ),
        )

    def __hash__(self) -> int:
        # Cached: operations look calendars up in a cache on every call, and hashing the
        # nested tuples each time would cost more than the arithmetic itself.
        return self._hash

    def _set_overrides(self, weekly_hours: tuple[DayHours, ...]) -> None:
        override_hours: dict[date, DayHours] = {}
        for override in self.overrides:
            day, hours = override
            if day in override_hours:
                raise CalendarError(f"override for {day.isoformat()} is given twice")
            override_hours[day] = tuple(sorted(hours))
        object.__setattr__(self, "_override_hours", override_hours)
        object.__setattr__(
            self,
            "overrides",
            tuple(DateOverride(day, hours) for day, hours in sorted(override_hours.items())),
        )

        def hours_before_holidays(day: date) -> DayHours:
            return override_hours.get(day, weekly_hours[day.weekday()])

        # Only the dates next to an override can newly overlap. Holidays are ignored here:
        # they only ever remove hours, and country holidays are open-ended, so the check
        # is the stricter one that holds whatever holidays apply.
        one_day = timedelta(days=1)
        for day, hours in override_hours.items():
            label = day.isoformat()
            _check_day(label, hours)
            before, after = day - one_day, day + one_day
            _check_spill(before.isoformat(), hours_before_holidays(before), label, hours)
            _check_spill(label, hours, after.isoformat(), hours_before_holidays(after))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def is_always_open(self) -> bool:
        """True for 24x7 with no holidays or overrides: business time is elapsed time."""
        return self._always_open

    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        return self.holiday_country is not None and day in _country_holiday_dates(
            self.holiday_country, self.holiday_subdivision, day.year
        )

    def hours_on(self, day: date) -> DayHours:
        """The intervals that start on local date ``day``, sorted."""
        override = self._override_hours.get(day)
        if override is not None:
            return override
        if self.is_holiday(day):
            return ()
        return self.weekly_hours[day.weekday()]

    @classmethod
    def always_open(cls, timezone: str = "UTC") -> BusinessCalendar:
        """24x7: every instant is business time."""
        return cls(timezone=timezone)

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> BusinessCalendar:
        """Parse a plan's ``calendar`` JSON object; ``None`` (absent) is 24x7 in UTC.

        A calendar without ``"hours"`` is open 24x7 apart from its holidays and
        overrides; a weekday missing from ``"hours"`` is closed.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise CalendarError(f"calendar must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _JSON_KEYS)
        if unknown:
            raise CalendarError(
                f"unknown calendar field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(_JSON_KEYS))}"
            )
        timezone = data.get("timezone")
        if not isinstance(timezone, str):
            raise CalendarError(
                "calendar 'timezone' is required: an IANA name like 'Europe/London'"
            )
        raw_hours = data.get("hours")
        weekly_hours = ALWAYS_OPEN_WEEK if raw_hours is None else _parse_week(raw_hours)
        return cls(
            timezone=timezone,
            weekly_hours=weekly_hours,
            holidays=frozenset(_parse_dates(data.get("holidays"))),
            holiday_country=_optional_string(data, "holiday_country"),
            holiday_subdivision=_optional_string(data, "holiday_subdivision"),
            overrides=_parse_overrides(data.get("overrides")),
        )

    def to_json(self) -> dict[str, object]:
        """The JSON form; ``from_json(calendar.to_json()) == calendar``."""
        return {
            "timezone": self.timezone,
            "hours": {
                weekday: [interval.to_json() for interval in day_hours]
                for weekday, day_hours in zip(WEEKDAYS, self.weekly_hours, strict=True)
            },
            "holidays": sorted(day.isoformat() for day in self.holidays),
            "holiday_country": self.holiday_country,
            "holiday_subdivision": self.holiday_subdivision,
            "overrides": {
                day.isoformat(): [interval.to_json() for interval in hours]
                for day, hours in self.overrides
            },
        }


def _load_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarError(f"time zone must be an IANA name such as 'Europe/London', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/London'"
        ) from None


# Building a country's holidays costs about a tenth of a millisecond and plans are parsed
# often, so each (country, subdivision) is checked once and each year's dates are kept as
# an immutable set, safe to share between calendars and threads. Both caches are bounded
# by the countries, subdivisions and years in use; failures raise and are not cached.
@functools.lru_cache(maxsize=1024)
def _check_holiday_country(country: str, subdivision: str | None) -> None:
    try:
        holidays_package.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        supported = holidays_package.list_supported_countries()
        if country not in supported:
            raise CalendarError(
                f"unknown holiday_country {country!r}: use an ISO 3166-1 alpha-2 code "
                "supported by the 'holidays' package, such as 'GB'"
            ) from None
        raise CalendarError(
            f"unknown holiday_subdivision {subdivision!r} for {country}: choose one of "
            f"{', '.join(supported[country]) or '(none)'}"
        ) from None


@functools.lru_cache(maxsize=4096)
def _country_holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # Neighbouring years too: an observed day can fall in the year next to its holiday's.
    nearby = holidays_package.country_holidays(
        country, subdiv=subdivision, years=range(max(year - 1, 1), year + 2)
    )
    return frozenset(day for day in nearby if day.year == year)


def _check_day(label: str, day_hours: DayHours) -> None:
    """Intervals starting on one date must not overlap (``day_hours`` is sorted)."""
    for earlier, later in pairwise(day_hours):
        if earlier.end_offset_minutes > later.start_minute:
            raise CalendarError(
                f"hours overlap on {label}: {earlier} and {later}"
                + _crossing_hint(earlier, label, label)
            )


def _check_spill(label: str, day_hours: DayHours, next_label: str, next_hours: DayHours) -> None:
    """An interval crossing midnight must end before the next date's first interval."""
    if not day_hours or not next_hours:
        return
    last = day_hours[-1]
    spill_end = last.end_offset_minutes - MINUTES_PER_DAY
    first_next = next_hours[0]
    if spill_end > first_next.start_minute:
        raise CalendarError(
            f"hours overlap: {label} {last} runs into {next_label}, "
            f"where it overlaps {first_next}" + _crossing_hint(last, label, next_label)
        )


def _crossing_hint(interval: WallInterval, label: str, next_label: str) -> str:
    if not interval.crosses_midnight:
        return ""
    return (
        f" ({interval} ends before it starts, so it is read as crossing midnight into "
        f"{'the next day' if label == next_label else next_label})"
    )


def _parse_wall_time(text: object, what: str) -> int:
    if not isinstance(text, str):
        raise CalendarError(f"interval {what} must be a string 'HH:MM', got {text!r}")
    match = _WALL_TIME.fullmatch(text)
    if match is None:
        raise CalendarError(f"interval {what} {text!r} is not a time 'HH:MM' (00:00-24:00)")
    minute = int(match["hour"]) * 60 + int(match["minute"])
    if minute > MINUTES_PER_DAY:
        raise CalendarError(f"interval {what} {text!r} is after 24:00")
    return minute


def _parse_intervals(raw: object, where: str) -> DayHours:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise CalendarError(f"{where}: hours must be a list of [start, end] pairs, got {raw!r}")
    intervals = []
    for pair in raw:
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise CalendarError(
                f'{where}: each interval is a pair ["HH:MM", "HH:MM"], got {pair!r}'
            )
        try:
            intervals.append(WallInterval.parse(pair[0], pair[1]))
        except CalendarError as error:
            raise CalendarError(f"{where}: {error}") from None
    return tuple(sorted(intervals))


def _parse_week(raw: object) -> tuple[DayHours, ...]:
    if not isinstance(raw, Mapping):
        raise CalendarError(
            'calendar "hours" must be an object of weekday -> intervals, like '
            '{"mon": [["09:00", "17:00"]]}'
        )
    unknown = sorted(str(key) for key in raw if key not in WEEKDAYS)
    if unknown:
        raise CalendarError(
            f"unknown weekday(s) in hours: {', '.join(unknown)}; use {', '.join(WEEKDAYS)}"
        )
    return tuple(_parse_intervals(raw.get(weekday, []), weekday) for weekday in WEEKDAYS)


def _parse_date(text: object, where: str) -> date:
    if not isinstance(text, str) or _ISO_DATE.fullmatch(text) is None:
        raise CalendarError(f"{where}: {text!r} is not a date 'YYYY-MM-DD'")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CalendarError(f"{where}: {text!r} is not a valid date ({error})") from None


def _parse_dates(raw: object) -> Iterable[date]:
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise CalendarError(f'calendar "holidays" must be a list of dates, got {raw!r}')
    return [_parse_date(text, "holidays") for text in raw]


def _parse_overrides(raw: object) -> tuple[DateOverride, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise CalendarError(
            'calendar "overrides" must be an object of date -> intervals, like '
            '{"2026-12-24": [["09:00", "12:00"]], "2026-12-31": []}'
        )
    return tuple(
        DateOverride(_parse_date(key, "overrides"), _parse_intervals(value, f"override {key}"))
        for key, value in raw.items()
    )


def _optional_string(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise CalendarError(f"calendar {key!r} must be a string or null, got {value!r}")
