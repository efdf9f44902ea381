"""SLA domain logic: plain Python, no web framework, database or broker."""

from aftercare_sla.domain.business_time import (
    Pause,
    add_business_time,
    add_business_time_with_pauses,
    business_time_between,
    business_time_between_with_pauses,
    is_open,
    next_open,
    open_intervals,
)
from aftercare_sla.domain.calendar import (
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
    DateOverride,
    WallInterval,
)

__all__ = [
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarError",
    "DateOverride",
    "Pause",
    "WallInterval",
    "add_business_time",
    "add_business_time_with_pauses",
    "business_time_between",
    "business_time_between_with_pauses",
    "is_open",
    "next_open",
    "open_intervals",
]
