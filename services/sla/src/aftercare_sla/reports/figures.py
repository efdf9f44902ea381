"""The counting rules, as pure functions over what the read models hold.

The README's "Reports: counting rules" section states these rules in words; this module
is the one place they are coded.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aftercare_shared.business_time import BusinessCalendar, Pause
from aftercare_shared.business_time import business_time_between_with_pauses as business_between
from aftercare_shared.events.catalog import PRIORITIES, SLA_METRICS

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


@dataclass(frozen=True)
class Span:
    """A stretch a ticket was open: ``[opened_at, ended_at)``; ``ended_at`` None: still open."""

    ticket_id: str
    opened_at: datetime
    ended_at: datetime | None
    ended_by: str | None

    def open_at(self, moment: datetime) -> bool:
        return self.opened_at <= moment and (self.ended_at is None or self.ended_at > moment)


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


def compliance_rows(
    clocks: Sequence[ClockFact],
    *,
    as_of: datetime,
    calendars: dict[str | None, BusinessCalendar],
) -> list[dict[str, object]]:
    """Per metric x priority: counted, met, breached, running, met %, times to meet, paused."""
    metrics = ordered([clock.metric for clock in clocks] + list(SLA_METRICS), SLA_METRICS)
    priorities = ordered([clock.priority for clock in clocks] + list(PRIORITIES), PRIORITIES)
    groups: dict[tuple[str, str], list[ClockFact]] = defaultdict(list)
    for clock in clocks:
        groups[(clock.metric, clock.priority)].append(clock)
    rows: list[dict[str, object]] = []
    for metric in metrics:
        for priority in priorities:
            group = groups[(metric, priority)]
            states = [clock.state(as_of) for clock in group]
            met = [clock for clock, state in zip(group, states, strict=True) if state == MET]
            breached = states.count(BREACHED)
            business = [
                clock.business_seconds
                if clock.business_seconds is not None
                else business_seconds_to_meet(
                    calendars.get(clock.plan_id) or BusinessCalendar.always_open(),
                    clock.started_at,
                    clock.met_at or clock.started_at,
                    clock.pauses_until(as_of),
                )
                for clock in met
            ]
            wall = [seconds((clock.met_at or clock.started_at) - clock.started_at) for clock in met]
            paused = sum(
                (
                    seconds(end - start)
                    for clock in group
                    for start, end in clock.pauses_until(as_of)
                ),
                0.0,
            )
            rows.append(
                {
                    "metric": metric,
                    "priority": priority,
                    "counted": len(group),
                    "met": len(met),
                    "breached": breached,
                    "running": states.count(RUNNING),
                    "met_percent": percent(len(met), len(met) + breached),
                    "business_seconds_to_meet_median": median(business),
                    "business_seconds_to_meet_p90": p90(business),
                    "wall_seconds_to_meet_median": median(wall),
                    "wall_seconds_to_meet_p90": p90(wall),
                    "paused_seconds": paused,
                }
            )
    return rows


def backlog_at(spans: Iterable[Span], moment: datetime) -> set[str]:
    """The tickets open at ``moment``."""
    return {span.ticket_id for span in spans if span.open_at(moment)}


def overlap(start: datetime, end: datetime, low: datetime, high: datetime) -> timedelta:
    """How much of ``[start, end)`` lies in ``[low, high)``."""
    return max(timedelta(0), min(end, high) - max(start, low))
