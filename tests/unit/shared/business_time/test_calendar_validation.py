"""Building a business calendar: what is accepted, what is refused and how it says why."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from aftercare_shared.business_time import (
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
    DateOverride,
    WallInterval,
)

NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}

# The example in docs/architecture.md, verbatim: split Tuesday, a Friday night shift.
DOCUMENTED_EXAMPLE: dict[str, Any] = {
    "timezone": "Europe/London",
    "hours": {
        "mon": [["09:00", "17:00"]],
        "tue": [["09:00", "12:30"], ["13:30", "17:00"]],
        "wed": [["09:00", "17:00"]],
        "thu": [["09:00", "17:00"]],
        "fri": [["09:00", "17:00"], ["22:00", "06:00"]],
        "sat": [],
    },
    "holidays": ["2026-12-28"],
    "holiday_country": "GB",
    "holiday_subdivision": "ENG",
    "overrides": {"2026-12-24": [["09:00", "12:00"]], "2026-12-31": []},
}

# A plain 9-5 London week with the documented example's overrides, Christmas Day given
# explicitly and Sunday spelled out as closed.
LONDON_NINE_TO_FIVE: dict[str, Any] = {
    "timezone": "Europe/London",
    "hours": {**NINE_TO_FIVE, "sun": []},
    "holidays": ["2026-12-25"],
    "holiday_country": "GB",
    "holiday_subdivision": "ENG",
    "overrides": {"2026-12-24": [["09:00", "12:00"]], "2026-12-31": []},
}


def calendar_with(**changes: object) -> dict[str, object]:
    return {"timezone": "Europe/London", "hours": NINE_TO_FIVE, **changes}


def test_the_documented_example_is_parsed() -> None:
    calendar = BusinessCalendar.from_json(DOCUMENTED_EXAMPLE)
    assert calendar.timezone == "Europe/London"
    assert calendar.weekly_hours[1] == (
        WallInterval(9 * 60, 12 * 60 + 30),
        WallInterval(13 * 60 + 30, 17 * 60),
    )
    night_shift = WallInterval(22 * 60, 6 * 60)
    assert night_shift.crosses_midnight
    assert calendar.weekly_hours[4] == (WallInterval(9 * 60, 17 * 60), night_shift)
    assert calendar.weekly_hours[5] == ()  # given as []
    assert calendar.weekly_hours[6] == ()  # missing
    assert calendar.holidays == frozenset({date(2026, 12, 28)})
    assert calendar.hours_on(date(2026, 12, 24)) == (WallInterval(9 * 60, 12 * 60),)
    assert calendar.hours_on(date(2026, 12, 31)) == ()
    assert calendar.hours_on(date(2026, 12, 25)) == ()  # Christmas Day, from the country
    assert calendar.hours_on(date(2026, 11, 27)) == (WallInterval(9 * 60, 17 * 60), night_shift)
    assert BusinessCalendar.from_json(calendar.to_json()) == calendar


def test_a_nine_to_five_london_calendar_is_parsed() -> None:
    calendar = BusinessCalendar.from_json(LONDON_NINE_TO_FIVE)
    assert calendar.timezone == "Europe/London"
    assert calendar.weekly_hours[0] == (WallInterval(9 * 60, 17 * 60),)
    assert calendar.weekly_hours[5] == ()  # a missing weekday is closed
    assert calendar.weekly_hours[6] == ()
    assert calendar.holidays == frozenset({date(2026, 12, 25)})
    assert calendar.overrides == (
        DateOverride(date(2026, 12, 24), (WallInterval(9 * 60, 12 * 60),)),
        DateOverride(date(2026, 12, 31), ()),
    )
    assert calendar.hours_on(date(2026, 12, 24)) == (WallInterval(9 * 60, 12 * 60),)
    assert calendar.hours_on(date(2026, 12, 31)) == ()
    assert calendar.hours_on(date(2026, 8, 31)) == ()  # England's late summer bank holiday
    assert calendar.hours_on(date(2026, 9, 1)) == (WallInterval(9 * 60, 17 * 60),)
    assert calendar.is_holiday(date(2026, 12, 28))  # Boxing Day observed
    assert not calendar.is_always_open


def test_json_round_trip_is_canonical() -> None:
    calendar = BusinessCalendar.from_json(LONDON_NINE_TO_FIVE)
    document = calendar.to_json()
    assert document["hours"] == {
        **{day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]},
        "sat": [],
        "sun": [],
    }
    assert document["overrides"] == {"2026-12-24": [["09:00", "12:00"]], "2026-12-31": []}
    assert BusinessCalendar.from_json(document) == calendar
    assert hash(BusinessCalendar.from_json(document)) == hash(calendar)


def test_an_absent_calendar_is_24x7_in_utc() -> None:
    calendar = BusinessCalendar.from_json(None)
    assert calendar == BusinessCalendar.always_open() == BusinessCalendar()
    assert calendar.timezone == "UTC"
    assert calendar.is_always_open


def test_a_calendar_without_hours_is_24x7_apart_from_its_holidays() -> None:
    calendar = BusinessCalendar.from_json({"timezone": "Asia/Kolkata", "holidays": ["2026-01-26"]})
    assert calendar.hours_on(date(2026, 1, 27)) == (WallInterval(0, 1440),)
    assert calendar.hours_on(date(2026, 1, 26)) == ()
    assert not calendar.is_always_open


def test_null_holidays_and_overrides_mean_none() -> None:
    calendar = BusinessCalendar.from_json(
        calendar_with(holidays=None, overrides=None, holiday_country=None)
    )
    assert calendar.holidays == frozenset()
    assert calendar.overrides == ()


def test_midnight_as_an_end_is_24_00() -> None:
    until_midnight = BusinessCalendar.from_json(
        {"timezone": "UTC", "hours": {"mon": [["22:00", "00:00"]]}}
    )
    assert until_midnight.weekly_hours[0] == (WallInterval(22 * 60, 1440),)
    assert until_midnight.to_json()["hours"] == {
        "mon": [["22:00", "24:00"]],
        **{day: [] for day in WEEKDAYS[1:]},
    }


def test_midnight_to_midnight_is_the_whole_day() -> None:
    # An end of 00:00 is the midnight that ends the day, as in 22:00-00:00.
    calendar = BusinessCalendar.from_json(
        {"timezone": "UTC", "hours": {"mon": [["00:00", "00:00"]]}}
    )
    assert calendar.weekly_hours[0] == (WallInterval(0, 1440),)


def test_crossing_midnight_and_the_week_end_is_accepted() -> None:
    # Sunday 22:00-06:00 runs into Monday, which may open when it ends.
    calendar = BusinessCalendar.from_json(
        {"timezone": "UTC", "hours": {"sun": [["22:00", "06:00"]], "mon": [["06:00", "14:00"]]}}
    )
    assert calendar.weekly_hours[6][0].crosses_midnight
    assert calendar.weekly_hours[6][0].end_offset_minutes == 30 * 60


def test_split_shifts_are_sorted() -> None:
    calendar = BusinessCalendar.from_json(
        {"timezone": "UTC", "hours": {"mon": [["13:00", "17:00"], ["08:00", "12:00"]]}}
    )
    assert calendar.weekly_hours[0] == (WallInterval(480, 720), WallInterval(780, 1020))


def test_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)


REFUSED = [
    pytest.param(
        calendar_with(timezone="Mars/Olympus_Mons"), r"unknown time zone 'Mars/Olympus_Mons'"
    ),
    pytest.param(calendar_with(timezone="../etc/passwd"), r"unknown time zone"),
    pytest.param(calendar_with(timezone=""), r"IANA name"),
    pytest.param({"hours": NINE_TO_FIVE}, r"'timezone' is required"),
    pytest.param(calendar_with(tz="UTC"), r"unknown calendar field\(s\) 'tz'"),
    pytest.param(
        calendar_with(hours={"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}),
        r"hours overlap on mon: 09:00-13:00 and 12:00-17:00",
    ),
    pytest.param(
        calendar_with(hours={"mon": [["09:00", "17:00"], ["09:00", "17:00"]]}),
        r"hours overlap on mon",
    ),
    pytest.param(
        calendar_with(hours={"mon": [["22:00", "06:00"]], "tue": [["05:00", "09:00"]]}),
        r"mon 22:00-06:00 runs into tue, where it overlaps 05:00-09:00 "
        r"\(22:00-06:00 ends before it starts, so it is read as crossing midnight into tue\)",
    ),
    pytest.param(
        # An end before the start is only valid as a night shift; here it would run over
        # Monday's own morning, which it cannot.
        calendar_with(hours={"sun": [["17:00", "09:00"]], "mon": [["08:00", "12:00"]]}),
        r"sun 17:00-09:00 runs into mon.*crossing midnight",
    ),
    pytest.param(
        calendar_with(hours={"mon": [["22:00", "06:00"], ["23:00", "23:30"]]}),
        r"hours overlap on mon: 22:00-06:00 and 23:00-23:30 .*crossing midnight",
    ),
    pytest.param(calendar_with(hours={"mon": [["09:00", "09:00"]]}), r"is empty"),
    pytest.param(calendar_with(hours={}), r"business hours are empty"),
    pytest.param(calendar_with(hours={"mon": [], "sun": []}), r"business hours are empty"),
    pytest.param(calendar_with(hours={"monday": [["09:00", "17:00"]]}), r"unknown weekday"),
    pytest.param(calendar_with(hours=[["09:00", "17:00"]]), r"weekday -> intervals"),
    pytest.param(calendar_with(hours={"mon": ["09:00", "17:00"]}), r"pair"),
    pytest.param(calendar_with(hours={"mon": [["09:00", "17:00", "18:00"]]}), r"pair"),
    pytest.param(calendar_with(hours={"mon": [["9:00", "17:00"]]}), r"'9:00' is not a time"),
    pytest.param(calendar_with(hours={"mon": [["09:00", "25:00"]]}), r"not a time"),
    pytest.param(calendar_with(hours={"mon": [["09:00", "24:30"]]}), r"after 24:00"),
    pytest.param(calendar_with(hours={"mon": [["24:00", "06:00"]]}), r"24:00 can only end"),
    pytest.param(calendar_with(hours={"mon": [[900, 1700]]}), r"must be a string"),
    pytest.param(calendar_with(holidays=["2026-02-30"]), r"'2026-02-30' is not a valid date"),
    pytest.param(calendar_with(holidays=["25/12/2026"]), r"not a date 'YYYY-MM-DD'"),
    pytest.param(calendar_with(holidays="2026-12-25"), r"must be a list of dates"),
    pytest.param(calendar_with(holiday_country="XX"), r"unknown holiday_country 'XX'"),
    pytest.param(
        calendar_with(holiday_country="GB", holiday_subdivision="XYZ"),
        r"unknown holiday_subdivision 'XYZ' for GB: choose one of ENG, NIR, SCT, WLS",
    ),
    pytest.param(calendar_with(holiday_subdivision="ENG"), r"needs a holiday_country"),
    pytest.param(calendar_with(holiday_country=44), r"must be a string or null"),
    pytest.param(calendar_with(overrides=[]), r"date -> intervals"),
    pytest.param(calendar_with(overrides={"2026-13-01": []}), r"'2026-13-01' is not a valid date"),
    pytest.param(
        calendar_with(overrides={"2026-12-24": [["09:00", "12:00"], ["11:00", "13:00"]]}),
        r"hours overlap on 2026-12-24: 09:00-12:00 and 11:00-13:00",
    ),
    pytest.param(
        # Wednesday 23 December's night shift runs to 06:00 on the 24th, so a special
        # opening at 05:00 that day would overlap it.
        {
            "timezone": "UTC",
            "hours": {"wed": [["22:00", "06:00"]]},
            "overrides": {"2026-12-24": [["05:00", "09:00"]]},
        },
        r"2026-12-23 22:00-06:00 runs into 2026-12-24, where it overlaps 05:00-09:00",
    ),
    pytest.param(
        # A special night shift on Thursday 24th runs to 04:00 on Friday 25th, whose
        # usual hours start at 03:00.
        {
            "timezone": "UTC",
            "hours": {"fri": [["03:00", "09:00"]]},
            "overrides": {"2026-12-24": [["22:00", "04:00"]]},
        },
        r"2026-12-24 22:00-04:00 runs into 2026-12-25, where it overlaps 03:00-09:00",
    ),
    pytest.param("Europe/London", r"must be a JSON object"),
]


@pytest.mark.parametrize(("document", "message"), REFUSED)
def test_bad_calendars_are_refused_with_a_clear_message(document: Any, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.from_json(document)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(CalendarError, match="one entry per weekday"):
        BusinessCalendar(weekly_hours=((WallInterval(0, 60),),))
    with pytest.raises(CalendarError, match="given twice"):
        BusinessCalendar(
            overrides=(DateOverride(date(2026, 1, 1), ()), DateOverride(date(2026, 1, 1), ()))
        )
    with pytest.raises(CalendarError, match="outside 00:00-23:59"):
        WallInterval(1440, 60)
    with pytest.raises(CalendarError, match="outside 00:00-24:00"):
        WallInterval(60, 1441)
