"""Hand-worked business-time cases, each with the reasoning that gives its answer.

Times are written with their UTC offset so that the repeated hour of a fall-back night
is unambiguous. 2026 dates used: Mon 15 June, Sat 28 / Sun 29 March (London springs
forward at 01:00 GMT), Sat 24 / Sun 25 October (London falls back at 02:00 BST), Sun
8 March / Sun 1 November (New York, at 02:00), Sun 5 April / Sun 4 October (Lord Howe
falls back from 02:00 to 01:30 and springs forward from 02:00 to 02:30).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aftercare_shared.business_time import (
    BusinessCalendar,
    add_business_time,
    add_business_time_with_pauses,
    business_time_between,
    business_time_between_with_pauses,
    is_open,
    next_open,
    open_intervals,
)

WEEKDAYS_ONLY = ("mon", "tue", "wed", "thu", "fri")
EVERY_DAY = (*WEEKDAYS_ONLY, "sat", "sun")

# The overrides of the example in docs/architecture.md on a 9-5 week: GB (England) bank
# holidays, Christmas Day given explicitly too, a short Christmas Eve and a closed New
# Year's Eve.
LONDON_9_TO_5 = BusinessCalendar.from_json(
    {
        "timezone": "Europe/London",
        "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS_ONLY},
        "holidays": ["2026-12-25"],
        "holiday_country": "GB",
        "holiday_subdivision": "ENG",
        "overrides": {"2026-12-24": [["09:00", "12:00"]], "2026-12-31": []},
    }
)
LONDON_9_TO_5_SATURDAY_OPENING = BusinessCalendar.from_json(
    {
        "timezone": "Europe/London",
        "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS_ONLY},
        "overrides": {"2026-07-04": [["10:00", "14:00"]]},
    }
)
PARIS_SPLIT_SHIFT = BusinessCalendar.from_json(
    {
        "timezone": "Europe/Paris",
        "hours": {day: [["08:00", "12:00"], ["13:00", "17:00"]] for day in WEEKDAYS_ONLY},
    }
)
# Night shifts starting Monday to Friday evening; Wednesday 17 June 2026 is a holiday.
NEW_YORK_NIGHTS = BusinessCalendar.from_json(
    {
        "timezone": "America/New_York",
        "hours": {day: [["22:00", "06:00"]] for day in WEEKDAYS_ONLY},
        "holidays": ["2026-06-17"],
    }
)
LONDON_NIGHTS = BusinessCalendar.from_json(
    {"timezone": "Europe/London", "hours": {day: [["22:00", "06:00"]] for day in EVERY_DAY}}
)
NEW_YORK_EARLY_SUNDAY = BusinessCalendar.from_json(
    {"timezone": "America/New_York", "hours": {"sun": [["00:00", "06:00"]]}}
)
LORD_HOWE_EARLY_SUNDAY = BusinessCalendar.from_json(
    {"timezone": "Australia/Lord_Howe", "hours": {"sun": [["00:00", "06:00"]]}}
)
LONDON_SUNDAY_IN_THE_GAP = BusinessCalendar.from_json(
    {"timezone": "Europe/London", "hours": {"sun": [["01:30", "03:00"]]}}
)
LORD_HOWE_SUNDAY_IN_THE_GAP = BusinessCalendar.from_json(
    {"timezone": "Australia/Lord_Howe", "hours": {"sun": [["02:15", "03:00"]]}}
)
LONDON_SUNDAY_CLOSING_IN_THE_FOLD = BusinessCalendar.from_json(
    {"timezone": "Europe/London", "hours": {"sun": [["00:00", "01:30"]]}}
)
KOLKATA_9_TO_5 = BusinessCalendar.from_json(
    {"timezone": "Asia/Kolkata", "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS_ONLY}}
)
ALWAYS_OPEN = BusinessCalendar.from_json(None)
LONDON_24X7 = BusinessCalendar.from_json({"timezone": "Europe/London"})


def at(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None
    return moment


def hours(count: float) -> timedelta:
    return timedelta(hours=count)


DUE_TIME_CASES = [
    # Inside hours: two hours on the same day.
    pytest.param(
        LONDON_9_TO_5, "2026-06-15T10:00+01:00", hours(2), "2026-06-15T12:00+01:00", id="inside"
    ),
    # Friday 16:00-17:00 gives one hour; Saturday and Sunday are closed; Monday 09:00 plus
    # the remaining hour.
    pytest.param(
        LONDON_9_TO_5, "2026-06-19T16:00+01:00", hours(2), "2026-06-22T10:00+01:00", id="weekend"
    ),
    # A start on Saturday counts from Monday's opening.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-20T11:00+01:00",
        hours(1),
        "2026-06-22T10:00+01:00",
        id="start-on-weekend",
    ),
    # A start before opening counts from 09:00.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-16T07:00+01:00",
        hours(0.5),
        "2026-06-16T09:30+01:00",
        id="start-before-opening",
    ),
    # A start after closing counts from the next morning.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-16T18:00+01:00",
        hours(0.5),
        "2026-06-17T09:30+01:00",
        id="start-after-closing",
    ),
    # Eight hours from 09:00 use the whole day: due at 17:00, not at the next opening.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-16T09:00+01:00",
        hours(8),
        "2026-06-16T17:00+01:00",
        id="due-exactly-at-close",
    ),
    # Hours are [09:00, 17:00): 17:00 itself is closed, so counting starts Wednesday.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-16T17:00+01:00",
        hours(1),
        "2026-06-17T10:00+01:00",
        id="start-at-close",
    ),
    # One hour on Thursday; Good Friday (3 April) and Easter Monday (6 April) are English
    # bank holidays from the holidays package; the weekend between; Tuesday 09:00 + 1h.
    pytest.param(
        LONDON_9_TO_5,
        "2026-04-02T16:00+01:00",
        hours(2),
        "2026-04-07T10:00+01:00",
        id="country-holidays",
    ),
    # One hour on Wednesday 23 December; Christmas Eve is overridden to 09:00-12:00, whose
    # three hours finish the target exactly at that special close.
    pytest.param(
        LONDON_9_TO_5,
        "2026-12-23T16:00+00:00",
        hours(4),
        "2026-12-24T12:00+00:00",
        id="override-special-hours",
    ),
    # One hour on Christmas Eve (11:00-12:00); Christmas Day (explicit and GB), the
    # weekend and Boxing Day observed on Monday 28th are closed; Tuesday 09:00 + 1h.
    pytest.param(
        LONDON_9_TO_5,
        "2026-12-24T11:00+00:00",
        hours(2),
        "2026-12-29T10:00+00:00",
        id="christmas",
    ),
    # Two hours on Wednesday 30 December (15:00-17:00); New Year's Eve is overridden
    # closed; New Year's Day 2027 is a Friday bank holiday; the weekend; Monday 4 January
    # 09:00 + the remaining 4h.
    pytest.param(
        LONDON_9_TO_5,
        "2026-12-30T15:00+00:00",
        hours(6),
        "2027-01-04T13:00+00:00",
        id="spanning-new-year",
    ),
    # 2,000 business hours from Monday 5 January 2026. 2026 has 261 weekdays, 259 of them
    # from 5 January; 7 are bank holidays (3 and 6 April, 4 and 25 May, 31 August,
    # 25 and 28 December), 31 December is closed and 24 December is a 3h day, leaving 250
    # full days. 248 of them fall before 24 December: 1,984h by 23 December 17:00, 1,987h
    # after Christmas Eve, 1,995h after Tuesday 29 December, and the last 5h end on
    # Wednesday 30 December at 14:00.
    pytest.param(
        LONDON_9_TO_5,
        "2026-01-05T09:00+00:00",
        hours(2_000),
        "2026-12-30T14:00+00:00",
        id="two-thousand-hours",
    ),
    # One hour on Friday; the Saturday override 10:00-14:00 gives the other two.
    pytest.param(
        LONDON_9_TO_5_SATURDAY_OPENING,
        "2026-07-03T16:00+01:00",
        hours(3),
        "2026-07-04T12:00+01:00",
        id="override-opens-a-saturday",
    ),
    # A zero target outside hours is due when counting would start: Monday's opening.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-20T11:00+01:00",
        timedelta(0),
        "2026-06-22T09:00+01:00",
        id="zero-outside-hours",
    ),
    # A zero target inside hours is due at once.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-15T10:00+01:00",
        timedelta(0),
        "2026-06-15T10:00+01:00",
        id="zero-inside-hours",
    ),
    # Split shift: 11:00-12:00 is one hour, lunch 12:00-13:00 does not count, 13:00-14:00.
    pytest.param(
        PARIS_SPLIT_SHIFT,
        "2026-06-15T11:00+02:00",
        hours(2),
        "2026-06-15T14:00+02:00",
        id="split-shift",
    ),
    # Split shift: the target ends as the morning shift closes - due at 12:00, not 13:00.
    pytest.param(
        PARIS_SPLIT_SHIFT,
        "2026-06-15T11:30+02:00",
        hours(0.5),
        "2026-06-15T12:00+02:00",
        id="split-shift-due-at-lunch",
    ),
    # Split shift: a start during lunch counts from 13:00.
    pytest.param(
        PARIS_SPLIT_SHIFT,
        "2026-06-15T12:30+02:00",
        hours(1),
        "2026-06-15T14:00+02:00",
        id="split-shift-start-at-lunch",
    ),
    # Tuesday 05:00 is inside Monday's 22:00-06:00 shift: one hour to 06:00, then the
    # Tuesday night shift from 22:00 gives the second.
    pytest.param(
        NEW_YORK_NIGHTS,
        "2026-06-16T05:00-04:00",
        hours(2),
        "2026-06-16T23:00-04:00",
        id="overnight-shift",
    ),
    # Saturday 03:00 is inside Friday's shift, which runs to Saturday 06:00 (3h); no shift
    # starts on Saturday or Sunday; Monday 22:00 + 1h.
    pytest.param(
        NEW_YORK_NIGHTS,
        "2026-06-20T03:00-04:00",
        hours(4),
        "2026-06-22T23:00-04:00",
        id="overnight-shift-over-weekend",
    ),
    # A holiday closes the shift that starts on it, not the one ending on it: Wednesday
    # 05:00-06:00 still belongs to Tuesday's shift; Wednesday's 22:00 shift is cancelled;
    # Thursday 22:00 + 1h.
    pytest.param(
        NEW_YORK_NIGHTS,
        "2026-06-17T05:00-04:00",
        hours(2),
        "2026-06-18T23:00-04:00",
        id="overnight-shift-holiday",
    ),
    # A whole night shift from Sunday noon: Monday 22:00 to Tuesday 06:00, due at close.
    pytest.param(
        NEW_YORK_NIGHTS,
        "2026-06-21T12:00-04:00",
        hours(8),
        "2026-06-23T06:00-04:00",
        id="overnight-shift-due-at-close",
    ),
    # No calendar: 24x7 in UTC, plain elapsed time.
    pytest.param(
        ALWAYS_OPEN, "2026-06-15T10:00+00:00", hours(1.5), "2026-06-15T11:30+00:00", id="24x7"
    ),
    # 24x7 in London is real elapsed time: 24h from Saturday noon GMT across the spring
    # forward is Sunday 13:00 BST (12:00 UTC), not Sunday noon on the wall clock.
    pytest.param(
        LONDON_24X7,
        "2026-03-28T12:00+00:00",
        hours(24),
        "2026-03-29T13:00+01:00",
        id="24x7-across-spring-forward",
    ),
    # London spring forward: the Saturday night shift runs 22:00 GMT (22:00 UTC) to 06:00
    # BST (05:00 UTC) - one hour shorter, 7h - and seven hours end exactly at its close.
    pytest.param(
        LONDON_NIGHTS,
        "2026-03-28T22:00+00:00",
        hours(7),
        "2026-03-29T06:00+01:00",
        id="london-spring-forward-due-at-close",
    ),
    # ...so half an hour more spills into Sunday's night shift: 22:00 BST + 30 min.
    pytest.param(
        LONDON_NIGHTS,
        "2026-03-28T22:00+00:00",
        hours(7.5),
        "2026-03-29T22:30+01:00",
        id="london-spring-forward-short-night",
    ),
    # London fall back: the Saturday night shift runs 22:00 BST (21:00 UTC) to 06:00 GMT
    # (06:00 UTC) - one hour longer, 9h - so 8h30 fit in it: 21:00 + 8:30 = 05:30 UTC.
    pytest.param(
        LONDON_NIGHTS,
        "2026-10-24T22:00+01:00",
        hours(8.5),
        "2026-10-25T05:30+00:00",
        id="london-fall-back-long-night",
    ),
    # ...and nine hours end exactly at its 06:00 GMT close.
    pytest.param(
        LONDON_NIGHTS,
        "2026-10-24T22:00+01:00",
        hours(9),
        "2026-10-25T06:00+00:00",
        id="london-fall-back-due-at-close",
    ),
    # New York spring forward: Sunday 00:00 EST (05:00 UTC) to 06:00 EDT (10:00 UTC) is 5h.
    pytest.param(
        NEW_YORK_EARLY_SUNDAY,
        "2026-03-08T00:00-05:00",
        hours(5),
        "2026-03-08T06:00-04:00",
        id="new-york-spring-forward-due-at-close",
    ),
    # ...one minute more waits for the next Sunday's opening.
    pytest.param(
        NEW_YORK_EARLY_SUNDAY,
        "2026-03-08T00:00-05:00",
        hours(5) + timedelta(minutes=1),
        "2026-03-15T00:01-04:00",
        id="new-york-spring-forward-next-week",
    ),
    # New York fall back: 00:00 EDT (04:00 UTC) to 06:00 EST (11:00 UTC) is 7h.
    pytest.param(
        NEW_YORK_EARLY_SUNDAY,
        "2026-11-01T00:00-04:00",
        hours(7),
        "2026-11-01T06:00-05:00",
        id="new-york-fall-back-due-at-close",
    ),
    # Both passes through 01:00-02:00 count: 1h30 after midnight is 01:30 EDT (first
    # pass, 05:30 UTC) and 2h30 after midnight is 01:30 EST (second pass, 06:30 UTC).
    pytest.param(
        NEW_YORK_EARLY_SUNDAY,
        "2026-11-01T00:00-04:00",
        hours(1.5),
        "2026-11-01T01:30-04:00",
        id="new-york-fall-back-first-pass",
    ),
    pytest.param(
        NEW_YORK_EARLY_SUNDAY,
        "2026-11-01T00:00-04:00",
        hours(2.5),
        "2026-11-01T01:30-05:00",
        id="new-york-fall-back-second-pass",
    ),
    # Lord Howe falls back 30 minutes: Sunday 00:00 +11:00 (13:00 UTC Saturday) to 06:00
    # +10:30 (19:30 UTC) is 6h30.
    pytest.param(
        LORD_HOWE_EARLY_SUNDAY,
        "2026-04-05T00:00+11:00",
        hours(6.5),
        "2026-04-05T06:00+10:30",
        id="lord-howe-fall-back-due-at-close",
    ),
    # Lord Howe springs forward 30 minutes: 00:00 +10:30 (13:30 UTC) to 06:00 +11:00
    # (19:00 UTC) is 5h30.
    pytest.param(
        LORD_HOWE_EARLY_SUNDAY,
        "2026-10-04T00:00+10:30",
        hours(5.5),
        "2026-10-04T06:00+11:00",
        id="lord-howe-spring-forward-due-at-close",
    ),
    # Two hours after midnight is the instant the clocks jump from 02:00 to 02:30.
    pytest.param(
        LORD_HOWE_EARLY_SUNDAY,
        "2026-10-04T00:00+10:30",
        hours(2),
        "2026-10-04T02:30+11:00",
        id="lord-howe-spring-forward-at-the-jump",
    ),
    # Half-hour offset, no DST: one hour on Monday (16:00-17:00 IST), Tuesday 09:00 + 1h.
    pytest.param(
        KOLKATA_9_TO_5,
        "2026-06-15T16:00+05:30",
        hours(2),
        "2026-06-16T10:00+05:30",
        id="kolkata-half-hour-offset",
    ),
]


@pytest.mark.parametrize(("calendar", "start", "duration", "due"), DUE_TIME_CASES)
def test_due_time(calendar: BusinessCalendar, start: str, duration: timedelta, due: str) -> None:
    due_at = add_business_time(calendar, at(start), duration)
    assert due_at == at(due)
    assert due_at.tzinfo is UTC
    # Every hand-worked due time also measures back to its target.
    assert business_time_between(calendar, at(start), due_at) == duration


ELAPSED_CASES = [
    # A 9-5 week: five days of 8h.
    pytest.param(
        LONDON_9_TO_5, "2026-06-15T00:00+01:00", "2026-06-22T00:00+01:00", hours(40), id="week"
    ),
    # Christmas to New Year: 21-23 December 24h, Christmas Eve 3h, 25 and 28 December
    # holidays, 29-30 December 16h, New Year's Eve closed, 1 January holiday: 43h.
    pytest.param(
        LONDON_9_TO_5,
        "2026-12-21T00:00+00:00",
        "2027-01-04T00:00+00:00",
        hours(43),
        id="christmas-to-new-year",
    ),
    # The spring-forward night shift is 7h; the one before ended at 06:00 on Saturday.
    pytest.param(
        LONDON_NIGHTS,
        "2026-03-28T12:00+00:00",
        "2026-03-29T12:00+01:00",
        hours(7),
        id="london-spring-forward-night",
    ),
    # The fall-back night shift is 9h.
    pytest.param(
        LONDON_NIGHTS,
        "2026-10-24T12:00+01:00",
        "2026-10-25T12:00+00:00",
        hours(9),
        id="london-fall-back-night",
    ),
    pytest.param(
        NEW_YORK_EARLY_SUNDAY,
        "2026-03-07T00:00-05:00",
        "2026-03-09T00:00-04:00",
        hours(5),
        id="new-york-spring-forward-sunday",
    ),
    pytest.param(
        NEW_YORK_EARLY_SUNDAY,
        "2026-10-31T00:00-04:00",
        "2026-11-02T00:00-05:00",
        hours(7),
        id="new-york-fall-back-sunday",
    ),
    pytest.param(
        LORD_HOWE_EARLY_SUNDAY,
        "2026-04-04T00:00+11:00",
        "2026-04-06T00:00+10:30",
        hours(6.5),
        id="lord-howe-fall-back-sunday",
    ),
    pytest.param(
        LORD_HOWE_EARLY_SUNDAY,
        "2026-10-03T00:00+10:30",
        "2026-10-05T00:00+11:00",
        hours(5.5),
        id="lord-howe-spring-forward-sunday",
    ),
    # 01:30 does not exist on 29 March: the interval opens when the gap ends, 02:00 BST,
    # and is 1h long.
    pytest.param(
        LONDON_SUNDAY_IN_THE_GAP,
        "2026-03-28T00:00+00:00",
        "2026-03-30T00:00+01:00",
        hours(1),
        id="opening-in-the-gap",
    ),
    # 02:15 does not exist on 4 October at Lord Howe: open 02:30-03:00, 30 minutes.
    pytest.param(
        LORD_HOWE_SUNDAY_IN_THE_GAP,
        "2026-10-03T00:00+10:30",
        "2026-10-05T00:00+11:00",
        hours(0.5),
        id="opening-in-the-lord-howe-gap",
    ),
    # 01:30 happens twice on 25 October; the close is the first one (BST): 00:00 BST to
    # 01:30 BST is 1h30, and the second pass through 01:00-01:30 GMT is closed.
    pytest.param(
        LONDON_SUNDAY_CLOSING_IN_THE_FOLD,
        "2026-10-24T00:00+01:00",
        "2026-10-26T00:00+00:00",
        hours(1.5),
        id="closing-in-the-fold",
    ),
    # The 24x7 calendar counts everything: three days.
    pytest.param(
        ALWAYS_OPEN,
        "2026-06-15T00:00+00:00",
        "2026-06-18T00:00+00:00",
        hours(72),
        id="24x7",
    ),
    # 24x7 in London across the fall back: 25 wall-clock hours pass between the two
    # midnights, and all of them count.
    pytest.param(
        LONDON_24X7,
        "2026-10-25T00:00+01:00",
        "2026-10-26T00:00+00:00",
        hours(25),
        id="24x7-fall-back-day",
    ),
    # A split-shift day is 8h.
    pytest.param(
        PARIS_SPLIT_SHIFT,
        "2026-06-15T00:00+02:00",
        "2026-06-16T00:00+02:00",
        hours(8),
        id="split-shift-day",
    ),
    # A 9-5 day whose date is a DST date is still 8h: it does not span the change.
    pytest.param(
        BusinessCalendar.from_json(
            {"timezone": "America/New_York", "hours": {"sun": [["09:00", "17:00"]]}}
        ),
        "2026-03-08T00:00-05:00",
        "2026-03-09T00:00-04:00",
        hours(8),
        id="nine-to-five-on-a-dst-date",
    ),
    # An empty range.
    pytest.param(
        LONDON_9_TO_5,
        "2026-06-15T10:00+01:00",
        "2026-06-15T10:00+01:00",
        timedelta(0),
        id="empty-range",
    ),
]


@pytest.mark.parametrize(("calendar", "start", "end", "elapsed"), ELAPSED_CASES)
def test_business_time_between(
    calendar: BusinessCalendar, start: str, end: str, elapsed: timedelta
) -> None:
    assert business_time_between(calendar, at(start), at(end)) == elapsed


def test_paused_time_never_counts() -> None:
    # Monday 09:00 to Tuesday 17:00 is 16h; the pause takes Monday 12:00-17:00 (5h) and
    # Tuesday 09:00-10:00 (1h): 10h.
    pause = (at("2026-06-15T12:00+01:00"), at("2026-06-16T10:00+01:00"))
    assert business_time_between_with_pauses(
        LONDON_9_TO_5, at("2026-06-15T09:00+01:00"), at("2026-06-16T17:00+01:00"), [pause]
    ) == hours(10)


def test_due_time_moves_past_a_pause() -> None:
    # 09:00-12:00 (3h), paused 12:00-14:00, 14:00-17:00 (3h), Tuesday 09:00-11:00 (2h).
    pause = (at("2026-06-15T12:00+01:00"), at("2026-06-15T14:00+01:00"))
    assert add_business_time_with_pauses(
        LONDON_9_TO_5, at("2026-06-15T09:00+01:00"), hours(8), [pause]
    ) == at("2026-06-16T11:00+01:00")


def test_a_start_inside_a_pause_counts_from_its_end() -> None:
    pause = (at("2026-06-15T09:30+01:00"), at("2026-06-15T11:00+01:00"))
    assert add_business_time_with_pauses(
        LONDON_9_TO_5, at("2026-06-15T10:00+01:00"), hours(1), [pause]
    ) == at("2026-06-15T12:00+01:00")


def test_a_zero_target_inside_a_pause_is_due_when_the_pause_ends() -> None:
    pause = (at("2026-06-15T10:00+00:00"), at("2026-06-15T10:30+00:00"))
    assert add_business_time_with_pauses(
        ALWAYS_OPEN, at("2026-06-15T10:00+00:00"), timedelta(0), [pause]
    ) == at("2026-06-15T10:30+00:00")


def test_a_target_reached_as_a_pause_begins_is_due_then() -> None:
    # One hour from 10:00 is reached at 11:00, exactly when the pause starts: due at
    # 11:00, not after the pause.
    pause = (at("2026-06-15T11:00+00:00"), at("2026-06-15T12:00+00:00"))
    assert add_business_time_with_pauses(
        ALWAYS_OPEN, at("2026-06-15T10:00+00:00"), hours(1), [pause]
    ) == at("2026-06-15T11:00+00:00")


def test_a_pause_over_the_close_skips_the_night() -> None:
    # 16:00-16:30 (30 min), paused until Tuesday 09:30, then 1h30: Tuesday 11:00.
    pause = (at("2026-06-15T16:30+01:00"), at("2026-06-16T09:30+01:00"))
    assert add_business_time_with_pauses(
        LONDON_9_TO_5, at("2026-06-15T16:00+01:00"), hours(2), [pause]
    ) == at("2026-06-16T11:00+01:00")


def test_overlapping_pauses_are_merged() -> None:
    # 10:00-14:00 is 4h; the pauses cover 11:00-12:30 together (1h30); the empty one
    # covers nothing: 2h30.
    pauses = [
        (at("2026-06-15T11:00+00:00"), at("2026-06-15T12:00+00:00")),
        (at("2026-06-15T11:30+00:00"), at("2026-06-15T12:30+00:00")),
        (at("2026-06-15T13:00+00:00"), at("2026-06-15T13:00+00:00")),
    ]
    assert business_time_between_with_pauses(
        ALWAYS_OPEN, at("2026-06-15T10:00+00:00"), at("2026-06-15T14:00+00:00"), pauses
    ) == hours(2.5)


OPEN_CASES = [
    pytest.param(LONDON_9_TO_5, "2026-06-15T09:00+01:00", True, id="at-opening"),
    pytest.param(LONDON_9_TO_5, "2026-06-15T16:59:59.999999+01:00", True, id="just-before-close"),
    pytest.param(LONDON_9_TO_5, "2026-06-15T17:00+01:00", False, id="at-close"),
    pytest.param(LONDON_9_TO_5, "2026-06-20T12:00+01:00", False, id="saturday"),
    pytest.param(LONDON_9_TO_5, "2026-12-25T12:00+00:00", False, id="christmas"),
    pytest.param(LONDON_9_TO_5, "2026-12-24T11:00+00:00", True, id="christmas-eve-morning"),
    pytest.param(LONDON_9_TO_5, "2026-12-24T13:00+00:00", False, id="christmas-eve-afternoon"),
    # The same instant written in another zone: 08:30 UTC is 09:30 BST.
    pytest.param(LONDON_9_TO_5, "2026-06-15T08:30+00:00", True, id="any-input-zone"),
    pytest.param(NEW_YORK_NIGHTS, "2026-06-20T05:59-04:00", True, id="friday-shift-saturday"),
    pytest.param(NEW_YORK_NIGHTS, "2026-06-20T06:00-04:00", False, id="friday-shift-ended"),
    pytest.param(NEW_YORK_NIGHTS, "2026-06-21T23:00-04:00", False, id="no-sunday-shift"),
    # The first pass through 01:15 is before the 01:30 BST close, the second is after it.
    pytest.param(
        LONDON_SUNDAY_CLOSING_IN_THE_FOLD, "2026-10-25T01:15+01:00", True, id="fold-first-pass"
    ),
    pytest.param(
        LONDON_SUNDAY_CLOSING_IN_THE_FOLD, "2026-10-25T01:15+00:00", False, id="fold-second-pass"
    ),
    pytest.param(ALWAYS_OPEN, "2026-06-15T03:00+00:00", True, id="24x7"),
]


@pytest.mark.parametrize(("calendar", "moment", "expected"), OPEN_CASES)
def test_is_open(calendar: BusinessCalendar, moment: str, expected: bool) -> None:
    assert is_open(calendar, at(moment)) is expected


NEXT_OPEN_CASES = [
    # Open: the instant itself, in UTC.
    pytest.param(
        LONDON_9_TO_5, "2026-06-15T10:00+01:00", "2026-06-15T10:00+01:00", id="already-open"
    ),
    pytest.param(
        LONDON_9_TO_5, "2026-06-19T17:00+01:00", "2026-06-22T09:00+01:00", id="friday-close"
    ),
    # Christmas Day, the weekend and Boxing Day observed: Tuesday 29 December.
    pytest.param(LONDON_9_TO_5, "2026-12-24T12:00+00:00", "2026-12-29T09:00+00:00", id="christmas"),
    # 01:30 is in the gap: the interval opens as the gap ends, 02:00 BST.
    pytest.param(
        LONDON_SUNDAY_IN_THE_GAP, "2026-03-29T00:00+00:00", "2026-03-29T02:00+01:00", id="gap"
    ),
    # 02:15 is in Lord Howe's 30-minute gap: the interval opens at 02:30 +11:00.
    pytest.param(
        LORD_HOWE_SUNDAY_IN_THE_GAP,
        "2026-10-04T00:00+10:30",
        "2026-10-04T02:30+11:00",
        id="lord-howe-gap",
    ),
]


@pytest.mark.parametrize(("calendar", "moment", "expected"), NEXT_OPEN_CASES)
def test_next_open(calendar: BusinessCalendar, moment: str, expected: str) -> None:
    opens_at = next_open(calendar, at(moment))
    assert opens_at == at(expected)
    assert opens_at.tzinfo is UTC


def test_open_intervals_are_clipped_and_merged() -> None:
    # Monday's night shift runs into Tuesday as one interval; the range clips the first
    # and last ones. Wednesday 17 June is a holiday, so Wednesday night has no shift.
    intervals = list(
        open_intervals(NEW_YORK_NIGHTS, at("2026-06-16T00:00-04:00"), at("2026-06-18T23:00-04:00"))
    )
    assert intervals == [
        (at("2026-06-16T00:00-04:00"), at("2026-06-16T06:00-04:00")),
        (at("2026-06-16T22:00-04:00"), at("2026-06-17T06:00-04:00")),
        (at("2026-06-18T22:00-04:00"), at("2026-06-18T23:00-04:00")),
    ]


def test_open_intervals_of_24x7_across_dst_is_one_interval() -> None:
    start, end = at("2026-03-27T00:00+00:00"), at("2026-03-31T00:00+01:00")
    assert list(open_intervals(LONDON_24X7, start, end)) == [(start, end)]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: is_open(LONDON_9_TO_5, datetime(2026, 6, 15, 10)), id="naive-is-open"),
        pytest.param(
            lambda: add_business_time(LONDON_9_TO_5, datetime(2026, 6, 15, 10), hours(1)),
            id="naive-start",
        ),
        pytest.param(
            lambda: add_business_time(LONDON_9_TO_5, at("2026-06-15T10:00+01:00"), hours(-1)),
            id="negative-duration",
        ),
        pytest.param(
            lambda: business_time_between(
                LONDON_9_TO_5, at("2026-06-15T10:00+01:00"), at("2026-06-15T09:00+01:00")
            ),
            id="end-before-start",
        ),
        pytest.param(
            lambda: business_time_between_with_pauses(
                LONDON_9_TO_5,
                at("2026-06-15T09:00+01:00"),
                at("2026-06-15T17:00+01:00"),
                [(at("2026-06-15T12:00+01:00"), at("2026-06-15T11:00+01:00"))],
            ),
            id="pause-ends-before-it-starts",
        ),
        pytest.param(
            lambda: open_intervals(
                LONDON_9_TO_5, at("2026-06-15T10:00+01:00"), at("2026-06-15T09:00+01:00")
            ),
            id="open-intervals-end-before-start",
        ),
    ],
)
def test_bad_arguments_are_refused(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=r"timezone-aware|negative|before"):
        call()
