"""How a ticket's life drives its two SLA clocks: pure rules, no database.

- Created: both clocks start from the ticket's ``created_at``.
- First response: a staff comment, or any status change away from ``new``, stops the
  first-response clock (met, or breached if it came too late).
- ``waiting_on_client`` pauses the resolution clock; leaving it resumes the clock with the
  deadline pushed back by the paused business time.
- ``resolved``/``closed`` stop every clock still counting.
- Reopened (to whichever status the reopen event names): the resolution clock carries on
  where it stopped, the closed stretch excluded like a pause (see
  :func:`aftercare_sla.domain.clocks.reopen_clock`); first response stays given. Reopened
  straight to ``waiting_on_client``, the clock resumes and pauses again at once.
- A priority change re-targets the clocks still counting from the new priority's targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.events.catalog import SLA_METRICS, Priority, SlaMetric, TicketStatus
from aftercare_sla.domain.clocks import (
    ClockEvent,
    SlaClock,
    pause_clock,
    reopen_clock,
    resume_clock,
    retarget_clock,
    start_clock,
    stop_clock,
)

NEW: TicketStatus = "new"
WAITING_ON_CLIENT: TicketStatus = "waiting_on_client"
DONE_STATUSES: frozenset[TicketStatus] = frozenset({"resolved", "closed"})

ClockEvents = list[tuple[SlaClock, ClockEvent]]
"""Events to announce, each with the clock it is about."""

_TARGET_FIELDS: Mapping[SlaMetric, str] = {
    "first_response": "first_response_minutes",
    "resolution": "resolution_minutes",
}


def clock_targets(
    plan_targets: Mapping[str, Mapping[str, int]], priority: Priority
) -> dict[SlaMetric, timedelta]:
    """A plan's targets for one priority, per metric."""
    minutes = plan_targets[priority]
    return {metric: timedelta(minutes=minutes[name]) for metric, name in _TARGET_FIELDS.items()}


def start_ticket_clocks(
    calendar: BusinessCalendar,
    *,
    targets: Mapping[SlaMetric, timedelta],
    at_risk_ratio: float,
    created_at: datetime,
) -> tuple[dict[SlaMetric, SlaClock], ClockEvents]:
    clocks: dict[SlaMetric, SlaClock] = {}
    events: ClockEvents = []
    for metric in SLA_METRICS:
        clock, started = start_clock(
            calendar,
            metric=metric,
            target=targets[metric],
            at_risk_ratio=at_risk_ratio,
            started_at=created_at,
        )
        clocks[metric] = clock
        events.extend((clock, event) for event in started)
    return clocks, events


def first_response_given(clocks: Mapping[SlaMetric, SlaClock], at: datetime) -> ClockEvents:
    """Staff answered the client: the first-response clock stops."""
    clock = clocks.get("first_response")
    return [] if clock is None else [(clock, event) for event in stop_clock(clock, at)]


def _stop_all(clocks: Mapping[SlaMetric, SlaClock], at: datetime) -> ClockEvents:
    """Resolved or closed: every clock still counting stops."""
    return [(clock, event) for clock in clocks.values() for event in stop_clock(clock, at)]


def _reopen(
    calendar: BusinessCalendar, clocks: Mapping[SlaMetric, SlaClock], at: datetime
) -> ClockEvents:
    clock = clocks.get("resolution")
    if clock is None:
        return []
    return [(clock, event) for event in reopen_clock(calendar, clock, at)]


def status_changed(
    calendar: BusinessCalendar,
    clocks: Mapping[SlaMetric, SlaClock],
    *,
    previous: TicketStatus,
    current: TicketStatus,
    at: datetime,
) -> ClockEvents:
    """The clock changes a move from status ``previous`` to ``current`` causes."""
    if previous == current:
        return []
    if current in DONE_STATUSES:
        return _stop_all(clocks, at)
    events: ClockEvents = []
    if previous in DONE_STATUSES:
        events += _reopen(calendar, clocks, at)
    if previous == NEW:
        events += first_response_given(clocks, at)
    resolution = clocks.get("resolution")
    if resolution is not None and current == WAITING_ON_CLIENT:
        events += [(resolution, event) for event in pause_clock(resolution, at)]
    elif resolution is not None and previous == WAITING_ON_CLIENT:
        events += [(resolution, event) for event in resume_clock(calendar, resolution, at)]
    return events


def priority_changed(
    calendar: BusinessCalendar,
    clocks: Mapping[SlaMetric, SlaClock],
    targets: Mapping[SlaMetric, timedelta],
    at: datetime,
) -> ClockEvents:
    """Re-target the clocks still counting to the new priority's targets."""
    return [
        (clock, event)
        for metric, clock in clocks.items()
        for event in retarget_clock(calendar, clock, targets[metric], at)
    ]
