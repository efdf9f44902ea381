"""Property tests of the business-time engine against a minute-stepping oracle.

The oracle is deliberately slow and simple, and lives only here. It walks UTC minute by
minute and keeps the furthest local wall-clock reading seen so far; an instant is open
when that reading lies inside a business interval. That is the engine's documented rule
("a wall reading stands for the first instant the clock reads it or later") stated
directly, with no gap or fold handling of its own: in a spring-forward gap the reading
jumps over the skipped times, in a fall-back fold it stands still until the clock catches
up again.

Time zones are picked for their awkward transitions: 30-minute DST (Lord_Howe), 45-minute
offsets (Chatham, Kathmandu), negative DST (Dublin), transitions at midnight (Havana,
Santiago), and none at all (Kolkata, UTC). Starts cluster around each zone's 2026
transitions and the new year so that the edge cases are actually reached.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays as holidays_package
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aftercare_shared.business_time import (
    BusinessCalendar,
    CalendarError,
    DateOverride,
    WallInterval,
    add_business_time,
    add_business_time_with_pauses,
    business_time_between,
    business_time_between_with_pauses,
    is_open,
    next_open,
    open_intervals,
)

MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
# Long enough for a short target on a sparse calendar, short enough that the oracle's
# minute stepping (about 2 µs a minute) keeps an example well under a second.
ORACLE_WINDOW_MINUTES = 12 * MINUTES_PER_DAY

ZONES = (
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Europe/Dublin",
    "America/Havana",
    "America/Santiago",
)
HOLIDAY_COUNTRIES: tuple[tuple[str, str | None] | None, ...] = (
    None,
    ("GB", "ENG"),
    ("US", None),
    ("AU", "NSW"),
)

# Enough examples to reach the DST and midnight edge cases often, few enough that the
# whole file runs in well under a minute on two cores. Everything else (derandomized, no
# example database, statistics) comes from the profile tests/conftest.py loaded.
BUSINESS_TIME_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


NEW_YEARS = (date(2026, 1, 1), date(2027, 1, 1))


@functools.cache
def transition_dates(zone_name: str) -> tuple[date, ...]:
    """The local dates of 2026 on which the zone's UTC offset changes."""
    zone = ZoneInfo(zone_name)
    found = []
    day = date(2026, 1, 1)
    while day.year == 2026:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        if midnight.utcoffset() != (midnight + timedelta(days=1)).utcoffset():
            found.append(day)
        day += timedelta(days=1)
    return tuple(found)


def focus_dates(zone_name: str) -> st.SearchStrategy[date]:
    """Dates worth testing around: mostly the DST changes, sometimes the new year."""
    new_years = st.sampled_from(NEW_YEARS)
    changes = transition_dates(zone_name)
    if not changes:
        return new_years
    return st.one_of(st.sampled_from(changes), st.sampled_from(changes), new_years)


# --- calendars --------------------------------------------------------------------------


def wall_reading_is_special(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a local reading is skipped (gap) or happens twice (fold)."""
    return (
        wall.replace(tzinfo=zone, fold=0).utcoffset()
        != wall.replace(tzinfo=zone, fold=1).utcoffset()
    )


@functools.cache
def transition_walls(zone_name: str) -> tuple[tuple[int, int, int], ...]:
    """(weekday, first minute, last minute) of each 2026 gap or fold, in local wall time."""
    zone = ZoneInfo(zone_name)
    found = []
    for day in transition_dates(zone_name):
        midnight = datetime(day.year, day.month, day.day)
        special = [
            minute
            for minute in range(MINUTES_PER_DAY)
            if wall_reading_is_special(midnight + minute * MINUTE, zone)
        ]
        if special:
            found.append((day.weekday(), special[0], special[-1]))
    return tuple(found)


def wall_minutes(period: int, zone_name: str) -> st.SearchStrategy[int]:
    """Points in ``[0, period)``, biased towards the zone's gaps and folds (on the weekday
    they happen, for a weekly period) and towards half hours."""
    generic = st.one_of(
        st.integers(0, period // 30 - 1).map(lambda slot: slot * 30),
        st.integers(0, period - 1),
    )
    special = transition_walls(zone_name)
    if not special:
        return generic

    def around(walls: tuple[int, int, int]) -> st.SearchStrategy[int]:
        weekday, first, last = walls
        day_start = weekday * MINUTES_PER_DAY if period == MINUTES_PER_WEEK else 0
        return st.integers(first - 15, last + 16).map(lambda minute: (day_start + minute) % period)

    near_transitions = st.sampled_from(special).flatmap(around)
    return st.one_of(near_transitions, near_transitions, generic)


@st.composite
def circle_intervals(
    draw: st.DrawFn, period: int, zone_name: str
) -> list[tuple[int, WallInterval]]:
    """Non-overlapping intervals on a circle of ``period`` minutes, as (day, interval).

    Pairs of consecutive points on a circle never overlap. Pairing from the second point
    makes the last pair wrap round, so shifts also cross midnight or run from Sunday into
    Monday without moving the points off the transition times.
    """
    points = sorted(draw(st.sets(wall_minutes(period, zone_name), min_size=2, max_size=12)))
    if draw(st.booleans()):
        points = [*points[1:], points[0] + period]
    intervals = []
    for opening, closing in zip(points[0::2], points[1::2], strict=False):
        start_minute = opening % MINUTES_PER_DAY
        # A whole day is only expressible from midnight (00:00-24:00).
        longest = MINUTES_PER_DAY if start_minute == 0 else MINUTES_PER_DAY - 1
        end = start_minute + min(closing - opening, longest)
        end_minute = end if end <= MINUTES_PER_DAY else end - MINUTES_PER_DAY
        intervals.append((opening // MINUTES_PER_DAY, WallInterval(start_minute, end_minute)))
    return intervals


@st.composite
def weekly_hours(draw: st.DrawFn, zone_name: str) -> tuple[tuple[WallInterval, ...], ...]:
    """Random valid weekly hours: 24x7, the same hours on chosen weekdays (so a DST
    Sunday is usually a working day), or different hours each day; split shifts and
    shifts crossing midnight included."""
    kind = draw(st.sampled_from(["24x7", "daily", "daily", "weekly", "weekly", "weekly"]))
    if kind == "24x7":
        return ((WallInterval(0, MINUTES_PER_DAY),),) * 7
    days: list[list[WallInterval]] = [[] for _ in range(7)]
    if kind == "daily":
        pattern = sorted(
            interval for _, interval in draw(circle_intervals(MINUTES_PER_DAY, zone_name))
        )
        for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
            days[weekday] = pattern
    else:
        for weekday, interval in draw(circle_intervals(MINUTES_PER_WEEK, zone_name)):
            days[weekday].append(interval)
    assume(any(days))
    return tuple(tuple(day) for day in days)


@st.composite
def day_hours(draw: st.DrawFn, zone_name: str) -> tuple[WallInterval, ...]:
    """Hours for an override date: within the day, possibly none (closed)."""
    points = sorted(draw(st.sets(wall_minutes(MINUTES_PER_DAY, zone_name))))
    return tuple(
        WallInterval(opening, closing)
        for opening, closing in zip(points[0::2], points[1::2], strict=False)
    )


@dataclass(frozen=True)
class CalendarInputs:
    """What was generated for a calendar, exactly as drawn: the oracle's only source, so
    that a calendar which stored its hours wrongly cannot agree with itself."""

    zone_name: str
    week: tuple[tuple[WallInterval, ...], ...]
    holidays: frozenset[date]
    country: tuple[str, str | None] | None
    overrides: dict[date, tuple[WallInterval, ...]]


@st.composite
def calendars_with_inputs(draw: st.DrawFn) -> tuple[BusinessCalendar, CalendarInputs]:
    zone_name = draw(st.sampled_from(ZONES))
    week = draw(weekly_hours(zone_name))
    nearby_dates = st.builds(
        lambda base, shift: base + timedelta(days=shift),
        focus_dates(zone_name),
        st.one_of(st.just(0), st.integers(-6, 6)),
    )
    country = draw(st.sampled_from(HOLIDAY_COUNTRIES))
    overrides = draw(st.dictionaries(nearby_dates, day_hours(zone_name), max_size=3))
    holidays = frozenset(draw(st.sets(nearby_dates, max_size=3)))
    inputs = CalendarInputs(zone_name, week, holidays, country, dict(overrides))
    try:
        calendar = BusinessCalendar(
            timezone=zone_name,
            weekly_hours=week,
            holidays=holidays,
            holiday_country=country[0] if country else None,
            holiday_subdivision=country[1] if country else None,
            overrides=tuple(DateOverride(day, hours) for day, hours in overrides.items()),
        )
    except CalendarError:
        # An override can collide with the night shift of the day before it.
        assume(False)
        raise
    return calendar, inputs


def calendars() -> st.SearchStrategy[BusinessCalendar]:
    return calendars_with_inputs().map(lambda pair: pair[0])


# --- the oracle -------------------------------------------------------------------------


@functools.cache
def country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays_package.country_holidays(country, subdiv=subdivision, years=year))


def oracle_hours_on(inputs: CalendarInputs, day: date) -> tuple[WallInterval, ...]:
    """Override, then holiday, then the weekly hours: the precedence, restated."""
    if day in inputs.overrides:
        return inputs.overrides[day]
    if day in inputs.holidays:
        return ()
    if inputs.country is not None and day in country_holidays(*inputs.country, day.year):
        return ()
    return inputs.week[day.weekday()]


def local_wall_minute(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return local.toordinal() * MINUTES_PER_DAY + local.hour * 60 + local.minute


def oracle_open_minutes(inputs: CalendarInputs, start: datetime, minutes: int) -> list[bool]:
    """Whether each UTC minute ``[start + i, start + i + 1)`` is business time."""
    zone = ZoneInfo(inputs.zone_name)
    # Begin a day early so the furthest wall reading is settled before ``start``.
    lead_in = MINUTES_PER_DAY
    first_wall = local_wall_minute(start - lead_in * MINUTE, zone)
    last_wall = local_wall_minute(start + minutes * MINUTE, zone)
    first_day = first_wall // MINUTES_PER_DAY - 1
    last_day = last_wall // MINUTES_PER_DAY + 1
    open_wall_minutes = bytearray((last_day - first_day + 2) * MINUTES_PER_DAY)
    for ordinal in range(first_day, last_day + 1):
        for interval in oracle_hours_on(inputs, date.fromordinal(ordinal)):
            begin = (ordinal - first_day) * MINUTES_PER_DAY + interval.start_minute
            length = (interval.end_minute - interval.start_minute) % MINUTES_PER_DAY
            for offset in range(length or MINUTES_PER_DAY):
                open_wall_minutes[begin + offset] = 1
    furthest_reading = first_wall
    flags = []
    for index in range(-lead_in, minutes):
        reading = local_wall_minute(start + index * MINUTE, zone)
        furthest_reading = max(furthest_reading, reading)
        if index >= 0:
            flags.append(bool(open_wall_minutes[furthest_reading - first_day * MINUTES_PER_DAY]))
    return flags


def oracle_due_index(counting: Sequence[bool], minutes: int) -> int | None:
    """Minutes after the start at which ``minutes`` counted minutes have passed; for zero,
    the first counted minute. ``None`` when the window is too short."""
    if minutes == 0:
        return next((index for index, counts in enumerate(counting) if counts), None)
    counted = 0
    for index, counts in enumerate(counting):
        counted += counts
        if counted == minutes:
            return index + 1
    return None


def paused_minutes(
    start: datetime, minutes: int, pauses: Sequence[tuple[datetime, datetime]]
) -> list[bool]:
    paused = [False] * minutes
    for pause_start, pause_end in pauses:
        first = max(0, (pause_start - start) // MINUTE)
        last = min(minutes, (pause_end - start) // MINUTE)
        for index in range(first, last):
            paused[index] = True
    return paused


# --- scenarios --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    calendar: BusinessCalendar
    inputs: CalendarInputs
    """What ``calendar`` was built from: the oracle reads these, never the calendar."""
    start: datetime
    """Minute-aligned UTC."""


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    calendar, inputs = draw(calendars_with_inputs())
    focus = draw(focus_dates(inputs.zone_name))
    # Mostly before the focus date, so that the oracle window crosses it, sometimes on
    # or just after it, so that computations also start inside a gap or a fold.
    offset_minutes = draw(st.integers(-3 * MINUTES_PER_DAY, MINUTES_PER_DAY))
    start = datetime(focus.year, focus.month, focus.day, tzinfo=UTC) + offset_minutes * MINUTE
    return Scenario(calendar, inputs, start)


@st.composite
def pause_lists(draw: st.DrawFn, start: datetime, minutes: int) -> list[tuple[datetime, datetime]]:
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        # Pauses may begin before the start: an open pause carried into the computation.
        first = draw(st.integers(-120, minutes))
        length = draw(st.integers(0, 3 * MINUTES_PER_DAY))
        pauses.append((start + first * MINUTE, start + (first + length) * MINUTE))
    return pauses


# --- properties against the oracle ------------------------------------------------------


@BUSINESS_TIME_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_due_time_and_elapsed_agree_with_the_oracle(
    scenario: Scenario, data: st.DataObject
) -> None:
    calendar, start = scenario.calendar, scenario.start
    flags = oracle_open_minutes(scenario.inputs, start, ORACLE_WINDOW_MINUTES)
    available = sum(flags)
    # Targets that end exactly at a close are drawn on purpose: due at close, not later.
    at_a_close = [
        sum(flags[: index + 1])
        for index in range(len(flags) - 1)
        if flags[index] and not flags[index + 1]
    ]
    target = data.draw(
        st.one_of(st.integers(0, max(0, available - 1)), st.sampled_from(at_a_close or [0])),
        label="target minutes",
    )
    due_index = oracle_due_index(flags, target)
    assume(due_index is not None)
    assert due_index is not None
    assert add_business_time(calendar, start, target * MINUTE) == start + due_index * MINUTE

    end_index = data.draw(st.integers(0, ORACLE_WINDOW_MINUTES), label="end minute")
    assert (
        business_time_between(calendar, start, start + end_index * MINUTE)
        == sum(flags[:end_index]) * MINUTE
    )

    probe = data.draw(st.integers(0, ORACLE_WINDOW_MINUTES - 1), label="probe minute")
    probe_at = start + probe * MINUTE
    assert is_open(calendar, probe_at) == flags[probe]
    first_open = oracle_due_index(flags[probe:], 0)
    if first_open is not None:
        assert next_open(calendar, probe_at) == probe_at + first_open * MINUTE

    spans = list(open_intervals(calendar, start, start + ORACLE_WINDOW_MINUTES * MINUTE))
    expected = [False] * ORACLE_WINDOW_MINUTES
    for open_at, close_at in spans:
        for index in range((open_at - start) // MINUTE, (close_at - start) // MINUTE):
            expected[index] = True
    assert expected == flags
    assert all(first[1] < second[0] for first, second in pairwise(spans))


@BUSINESS_TIME_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_paused_computations_agree_with_the_oracle(scenario: Scenario, data: st.DataObject) -> None:
    calendar, start = scenario.calendar, scenario.start
    pauses = data.draw(pause_lists(start, ORACLE_WINDOW_MINUTES // 2), label="pauses")
    flags = oracle_open_minutes(scenario.inputs, start, ORACLE_WINDOW_MINUTES)
    paused = paused_minutes(start, ORACLE_WINDOW_MINUTES, pauses)
    counting = [
        is_business and not is_paused for is_business, is_paused in zip(flags, paused, strict=True)
    ]
    target = data.draw(st.integers(0, max(0, sum(counting) - 1)), label="target minutes")
    due_index = oracle_due_index(counting, target)
    assume(due_index is not None)
    assert due_index is not None
    assert add_business_time_with_pauses(calendar, start, target * MINUTE, pauses) == (
        start + due_index * MINUTE
    )
    end_index = data.draw(st.integers(0, ORACLE_WINDOW_MINUTES), label="end minute")
    assert (
        business_time_between_with_pauses(calendar, start, start + end_index * MINUTE, pauses)
        == sum(counting[:end_index]) * MINUTE
    )


# --- algebraic properties, at microsecond resolution and over long targets ---------------


@st.composite
def long_targets(draw: st.DrawFn) -> tuple[BusinessCalendar, datetime, timedelta]:
    calendar = draw(calendars())
    start = draw(
        st.datetimes(
            min_value=datetime(2025, 6, 1),
            max_value=datetime(2027, 6, 1),
            timezones=st.just(ZoneInfo(calendar.timezone)),
        )
    )
    weekly = sum(
        (interval.end_minute - interval.start_minute) % MINUTES_PER_DAY or MINUTES_PER_DAY
        for day in calendar.weekly_hours
        for interval in day
    )
    # Up to about two years of this calendar's business time: long, yet bounded.
    most = min(2_000 * 60, weekly * 100) * 60 * 1_000_000
    duration = timedelta(microseconds=draw(st.integers(0, most)))
    return calendar, start, duration


@BUSINESS_TIME_SETTINGS
@given(case=long_targets())
def test_elapsed_from_start_to_due_is_the_target(
    case: tuple[BusinessCalendar, datetime, timedelta],
) -> None:
    calendar, start, duration = case
    due_at = add_business_time(calendar, start, duration)
    assert due_at.tzinfo is UTC
    assert due_at >= start
    assert business_time_between(calendar, start, due_at) == duration


@BUSINESS_TIME_SETTINGS
@given(case=long_targets(), shorter_by=st.integers(0, 10**12))
def test_due_time_is_monotonic_in_the_target(
    case: tuple[BusinessCalendar, datetime, timedelta], shorter_by: int
) -> None:
    calendar, start, duration = case
    shorter = max(timedelta(0), duration - shorter_by * MICROSECOND)
    assert add_business_time(calendar, start, shorter) <= add_business_time(
        calendar, start, duration
    )


@BUSINESS_TIME_SETTINGS
@given(case=long_targets())
def test_due_time_is_inside_or_at_the_edge_of_business_hours(
    case: tuple[BusinessCalendar, datetime, timedelta],
) -> None:
    calendar, start, duration = case
    due_at = add_business_time(calendar, start, duration)
    if duration:
        # Business time ran right up to the due time, so the instant before was open;
        # the due time itself may be a close.
        assert is_open(calendar, due_at - MICROSECOND)
    else:
        assert is_open(calendar, due_at)
        assert due_at == next_open(calendar, start)


@BUSINESS_TIME_SETTINGS
@given(case=long_targets(), data=st.data())
def test_paused_round_trip_and_edge(
    case: tuple[BusinessCalendar, datetime, timedelta], data: st.DataObject
) -> None:
    calendar, start, duration = case
    pauses = []
    for _ in range(data.draw(st.integers(0, 4), label="pause count")):
        # In UTC: adding to a local datetime is wall-clock arithmetic and loses its fold.
        begin = start.astimezone(UTC) + (
            data.draw(st.integers(-(10**10), 10**13), label="pause start") * MICROSECOND
        )
        pauses.append(
            (begin, begin + data.draw(st.integers(0, 10**12), label="pause length") * MICROSECOND)
        )
    due_at = add_business_time_with_pauses(calendar, start, duration, pauses)
    assert business_time_between_with_pauses(calendar, start, due_at, pauses) == duration
    edge = due_at - MICROSECOND if duration else due_at
    assert is_open(calendar, edge)
    assert not any(pause_start <= edge < pause_end for pause_start, pause_end in pauses)


@BUSINESS_TIME_SETTINGS
@given(case=long_targets(), data=st.data())
def test_the_due_time_for_elapsed_business_time_is_no_later_than_the_end(
    case: tuple[BusinessCalendar, datetime, timedelta], data: st.DataObject
) -> None:
    calendar, start, _ = case
    # In UTC: adding to a local datetime is wall-clock arithmetic and loses its fold.
    end = start.astimezone(UTC) + data.draw(st.integers(0, 10**13), label="end") * MICROSECOND
    elapsed = business_time_between(calendar, start, end)
    if elapsed:
        assert add_business_time(calendar, start, elapsed) <= end
    else:
        # Nothing was open in [start, end); a zero target is due at the next opening.
        assert next_open(calendar, start) >= end


@BUSINESS_TIME_SETTINGS
@given(calendar=calendars())
def test_json_round_trip(calendar: BusinessCalendar) -> None:
    assert BusinessCalendar.from_json(calendar.to_json()) == calendar
