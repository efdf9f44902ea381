"""Quiet hours: when an event for a business-hours endpoint may be delivered.

An endpoint with ``deliver: "business_hours"`` holds events that arrive while the
client's plan calendar is closed and delivers them when it opens (the SLA engine's
``next_open``), unless the event's priority is one of its ``except_priorities`` (a P1
pages whenever it happens). A client without a calendar (no plan, or a 24x7 plan) is
always open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, get_args

import orjson

from aftercare_shared.business_time import BusinessCalendar, next_open

DeliveryMode = Literal["always", "business_hours"]
DELIVERY_MODES: tuple[DeliveryMode, ...] = get_args(DeliveryMode)


@lru_cache(maxsize=1024)
def _calendar(canonical_json: str) -> BusinessCalendar:
    # Building a calendar (holidays, zone rules) costs far more than using one.
    parsed: dict[str, Any] = orjson.loads(canonical_json)
    return BusinessCalendar.from_json(parsed)


def opens_at(calendar_json: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """When the calendar is next open, if that is later than ``now``; None when open."""
    if calendar_json is None:
        return None
    calendar = _calendar(orjson.dumps(calendar_json, option=orjson.OPT_SORT_KEYS).decode())
    opening = next_open(calendar, now)
    return opening if opening > now else None
