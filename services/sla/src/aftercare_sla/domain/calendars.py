"""A client's calendar: the plan's calendar with the client's own time zone and holidays.

One plan serves clients in several countries: its weekly hours and date overrides stay,
while an assignment's ``calendar_override`` may replace the time zone (the hours are then
read in the client's zone) and the holidays (explicit dates and a country's public ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aftercare_shared.business_time import BusinessCalendar, CalendarError

OVERRIDABLE_FIELDS = frozenset({"timezone", "holidays", "holiday_country", "holiday_subdivision"})


def effective_calendar_json(
    plan_calendar: Mapping[str, Any] | None, override: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The canonical calendar JSON a client's clocks count in (None: 24x7 in UTC).

    Raises :class:`aftercare_shared.business_time.CalendarError` for an override that does
    not make a valid calendar (or names a field it may not override).
    """
    if not override:
        return None if plan_calendar is None else dict(plan_calendar)
    unknown = sorted(set(override) - OVERRIDABLE_FIELDS)
    if unknown:
        raise CalendarError(
            f"a calendar override may set only {', '.join(sorted(OVERRIDABLE_FIELDS))}; "
            f"not {', '.join(map(repr, unknown))}"
        )
    base: dict[str, Any] = {"timezone": "UTC"} if plan_calendar is None else dict(plan_calendar)
    base.update(override)
    if "holiday_country" in override and "holiday_subdivision" not in override:
        base["holiday_subdivision"] = None  # the plan's subdivision belongs to its country
    return BusinessCalendar.from_json(base).to_json()


def effective_calendar(
    plan_calendar: Mapping[str, Any] | None, override: Mapping[str, Any] | None
) -> BusinessCalendar:
    return BusinessCalendar.from_json(effective_calendar_json(plan_calendar, override))
