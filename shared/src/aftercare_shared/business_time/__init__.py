"""The business-time engine: when an SLA clock runs, and how much business time passes.

- ``calendar``: :class:`BusinessCalendar`, built and validated from a plan's JSON;
- ``arithmetic``: adding and measuring business time, with pauses;
- ``timeline`` and ``wall_clock``: the per-year UTC spans and the wall-time rule behind them.

Plain Python: no web framework, database or broker.
"""

from aftercare_shared.business_time.arithmetic import (
    Pause,
    add_business_time,
    add_business_time_with_pauses,
    business_time_between,
    business_time_between_with_pauses,
    is_open,
    next_open,
    open_intervals,
)
from aftercare_shared.business_time.calendar import (
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
