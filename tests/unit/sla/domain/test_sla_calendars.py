"""A client's effective calendar: the plan's, with its time zone and holidays overridden."""

from __future__ import annotations

from typing import Any

import pytest

from aftercare_shared.business_time import BusinessCalendar, CalendarError
from aftercare_sla.domain.calendars import effective_calendar_json

LONDON_OFFICE: dict[str, Any] = BusinessCalendar.from_json(
    {
        "timezone": "Europe/London",
        "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        "holiday_country": "GB",
        "holiday_subdivision": "ENG",
        "overrides": {"2026-12-24": [["09:00", "12:00"]]},
    }
).to_json()


def test_no_override_is_the_plan_calendar_as_is() -> None:
    assert effective_calendar_json(LONDON_OFFICE, None) == LONDON_OFFICE
    assert effective_calendar_json(None, None) is None
    assert effective_calendar_json(None, {}) is None


def test_the_override_replaces_zone_and_holidays_and_keeps_hours() -> None:
    calendar = effective_calendar_json(
        LONDON_OFFICE, {"timezone": "America/New_York", "holiday_country": "US"}
    )

    assert calendar is not None
    assert calendar["timezone"] == "America/New_York"
    assert (calendar["holiday_country"], calendar["holiday_subdivision"]) == ("US", None)
    assert calendar["hours"] == LONDON_OFFICE["hours"]
    assert calendar["overrides"] == LONDON_OFFICE["overrides"]


def test_a_24x7_plan_gets_the_clients_holidays() -> None:
    calendar = effective_calendar_json(None, {"holidays": ["2026-12-25"]})

    assert calendar is not None
    assert (calendar["timezone"], calendar["holidays"]) == ("UTC", ["2026-12-25"])


@pytest.mark.parametrize(
    "override",
    [{"timezone": "Mars/Olympus"}, {"hours": {}}, {"holiday_country": "XX"}],
)
def test_an_override_that_makes_no_valid_calendar_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(CalendarError):
        effective_calendar_json(LONDON_OFFICE, override)
