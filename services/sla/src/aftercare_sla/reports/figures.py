"""The counting rules' pure pieces: clock facts, business time, median and p90, percent.

The README's "Reports: counting rules" section states the rules in words. Postgres adds a
report's rows up (``clock_sql``, ``breach_sql``, ``ticket_sql``, written to give the very
figures these definitions give); the functions here serve what stays in Python: business
times the read model could not work out yet, and the report layout.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aftercare_shared.business_time import BusinessCalendar, Pause
from aftercare_shared.business_time import business_time_between_with_pauses as business_between

MET, BREACHED, RUNNING = "met", "breached", "running"


@dataclass(slots=True)
class ClockFact:
    ticket_id: str
    metric: str
    priority: str
    plan_id: str | None
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    breached_at: datetime | None
    paused_at: datetime | None
    pauses: tuple[Pause, ...]
    business_seconds: float | None = None
    """Start to met in business time, when the read model worked it out already."""

    def state(self, as_of: datetime) -> str:
        """Met or breached only if that happened before ``as_of``; otherwise still running."""
        if self.met_at is not None and self.met_at < as_of:
            return MET
        if self.breached_at is not None and self.breached_at < as_of:
            return BREACHED
        return RUNNING

    def pauses_until(self, as_of: datetime) -> list[Pause]:
        """Closed pauses and the one still open, cut at ``as_of``."""
        stretches = [*self.pauses]
        if self.paused_at is not None:
            stretches.append((self.paused_at, as_of))
        return [(start, min(end, as_of)) for start, end in stretches if start < as_of]


def stored_pauses(pairs: Iterable[Sequence[str]]) -> tuple[Pause, ...]:
    """Pauses as the read model stores them (ISO-8601 pairs)."""
    return tuple(
        (datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in pairs
    )


def business_seconds_to_meet(
    calendar: BusinessCalendar, started_at: datetime, met_at: datetime, pauses: Sequence[Pause]
) -> float:
    """Business time from start to met, the pauses left out."""
    return seconds(business_between(calendar, started_at, met_at, pauses))


def ordered(values: Iterable[str], known: Sequence[str]) -> list[str]:
    """The catalog's values first, in catalog order, then any others (newer producers)."""
    seen = set(values)
    return [value for value in known if value in seen] + sorted(seen - set(known))


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None if empty."""
    return float(statistics.median(values)) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile: the value at rank ceil(0.9 n) of the sorted values."""
    if not values:
        return None
    ranked = sorted(values)
    return float(ranked[math.ceil(0.9 * len(ranked)) - 1])


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def overlap(start: datetime, end: datetime, low: datetime, high: datetime) -> timedelta:
    """How much of ``[start, end)`` lies in ``[low, high)``."""
    return max(timedelta(0), min(end, high) - max(start, low))
