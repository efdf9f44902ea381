"""How a ticket's life drives its SLA clocks: pure rules, no database.

- Created: ``first_response`` and ``resolution`` start from the ticket's ``created_at``.
- First response: a public staff comment, or a staff status change away from ``new``,
  stops the first-response clock (met, or breached if it came too late). Internal notes,
  client changes and the platform's own changes do not count. A ticket resolved by a
  release or a deployment (not by staff) before anyone answered stops it as
  ``met_by_resolution``.
- Next response: a public client comment after the first response starts a
  ``next_response`` cycle when the plan has ``next_response_minutes`` for the ticket's
  priority; the next public staff comment stops it. Further client comments while a cycle
  runs do not move its deadline (it counts from the oldest unanswered one). Before the
  first response, that clock covers the client's comments; on a resolved or closed
  ticket, nothing is owed.
- The plan's ``pause_on`` statuses (default ``waiting_on_client``) pause the resolution
  clock; leaving them resumes it with the deadline pushed back by the paused business time.
- ``resolved``/``closed`` stop every clock still counting.
- Reopened (to whichever status the reopen event names): with ``on_reopen: resume`` the
  resolution clock carries on where it stopped, the closed stretch excluded like a pause
  (see :func:`aftercare_sla.domain.clocks.reopen_clock`); with ``restart`` it starts a new
  cycle with the full target. First response stays given. Reopened straight into a
  ``pause_on`` status, the clock resumes and pauses again at once.
- A priority change re-targets the clocks still counting from the new priority's targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.events.catalog import SLA_METRICS, Priority, SlaMetric, TicketStatus
from aftercare_sla.domain.clocks import (
    ClockEvent,
    SlaClock,
    pause_clock,
    reopen_clock,
    restart_clock,
    resume_clock,
    retarget_clock,
    start_clock,
    stop_clock,
)

NEW: TicketStatus = "new"
WAITING_ON_CLIENT: TicketStatus = "waiting_on_client"
DONE_STATUSES: frozenset[TicketStatus] = frozenset({"resolved", "closed"})
DEFAULT_PAUSE_ON: tuple[TicketStatus, ...] = (WAITING_ON_CLIENT,)

OnReopen = Literal["resume", "restart"]
ON_REOPEN_CHOICES: tuple[OnReopen, ...] = ("resume", "restart")

ClockEvents = list[tuple[SlaClock, ClockEvent]]
"""Events to announce, each with the clock it is about."""

_TARGET_FIELDS: Mapping[SlaMetric, str] = {
    "first_response": "first_response_minutes",
    "next_response": "next_response_minutes",
    "resolution": "resolution_minutes",
}
_STARTED_WITH_TICKET: tuple[SlaMetric, ...] = ("first_response", "resolution")


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """What one version of a plan promises: targets and how clocks react to the ticket."""

    targets: Mapping[str, Mapping[str, int]]
    at_risk_ratio: float
    pause_on: frozenset[TicketStatus] = frozenset(DEFAULT_PAUSE_ON)
    on_reopen: OnReopen = "resume"

    def targets_for(self, priority: Priority) -> dict[SlaMetric, timedelta]:
        """The targets for one priority, per metric; a metric the plan leaves out is absent."""
        minutes = self.targets[priority]
        return {
            metric: timedelta(minutes=minutes[name])
            for metric, name in _TARGET_FIELDS.items()
            if minutes.get(name) is not None
        }


@dataclass(frozen=True, slots=True)
class Change:
    """Who changed a ticket, as far as the SLA cares: only staff answer a client."""

    at: datetime
    by_staff: bool = True


def start_ticket_clocks(
    calendar: BusinessCalendar,
    terms: PlanTerms,
    *,
    priority: Priority,
    started_at: datetime,
    status: TicketStatus = NEW,
) -> tuple[dict[SlaMetric, SlaClock], ClockEvents]:
    """The clocks of a ticket the plan starts covering at ``started_at``.

    A new ticket gets both. A ticket already past ``new`` when its client's plan is
    assigned has had its first response, so only resolution starts (paused at once if the
    ticket sits in a ``pause_on`` status).
    """
    targets = terms.targets_for(priority)
    clocks: dict[SlaMetric, SlaClock] = {}
    events: ClockEvents = []
    for metric in _STARTED_WITH_TICKET:
        if metric == "first_response" and status != NEW:
            continue
        clock, started = start_clock(
            calendar,
            metric=metric,
            target=targets[metric],
            at_risk_ratio=terms.at_risk_ratio,
            started_at=started_at,
        )
        clocks[metric] = clock
        events.extend((clock, event) for event in started)
    resolution = clocks["resolution"]
    if status in terms.pause_on:
        events += [(resolution, event) for event in pause_clock(resolution, started_at)]
    return clocks, events


def staff_replied(clocks: Mapping[SlaMetric, SlaClock], at: datetime) -> ClockEvents:
    """A public staff reply answers the client: first and next response stop."""
    return [
        (clock, event)
        for metric in ("first_response", "next_response")
        if (clock := clocks.get(metric)) is not None
        for event in stop_clock(clock, at)
    ]


def client_replied(
    calendar: BusinessCalendar,
    clocks: dict[SlaMetric, SlaClock],
    terms: PlanTerms,
    *,
    priority: Priority,
    status: TicketStatus,
    at: datetime,
) -> ClockEvents:
    """A public client reply: the next staff reply is due (a new ``next_response`` cycle)."""
    target = terms.targets_for(priority).get("next_response")
    first_response = clocks.get("first_response")
    if target is None or status in DONE_STATUSES:
        return []
    if first_response is not None and not first_response.is_stopped:
        return []  # not answered yet at all: the first-response clock covers it
    current = clocks.get("next_response")
    if current is None:
        clock, started = start_clock(
            calendar,
            metric="next_response",
            target=target,
            at_risk_ratio=terms.at_risk_ratio,
            started_at=at,
        )
        clocks["next_response"] = clock
        return [(clock, event) for event in started]
    restarted = restart_clock(
        calendar, current, target=target, at_risk_ratio=terms.at_risk_ratio, at=at
    )
    return [(current, event) for event in restarted]


def resolved_by_fix(clocks: Mapping[SlaMetric, SlaClock], at: datetime) -> ClockEvents:
    """A release or a deployment resolved the ticket: every clock stops, and a first
    response nobody gave is ``met_by_resolution``."""
    events: ClockEvents = []
    first_response = clocks.get("first_response")
    if first_response is not None:
        events += [
            (first_response, event) for event in stop_clock(first_response, at, by_resolution=True)
        ]
    return events + _stop_all(clocks, at)


def _stop_all(clocks: Mapping[SlaMetric, SlaClock], at: datetime) -> ClockEvents:
    """Resolved or closed: every clock still counting stops."""
    return [(clock, event) for clock in clocks.values() for event in stop_clock(clock, at)]


def _reopen(
    calendar: BusinessCalendar,
    clocks: Mapping[SlaMetric, SlaClock],
    terms: PlanTerms,
    priority: Priority,
    at: datetime,
) -> ClockEvents:
    clock = clocks.get("resolution")
    if clock is None:
        return []
    if terms.on_reopen == "restart":
        target = terms.targets_for(priority)["resolution"]
        changes = restart_clock(
            calendar, clock, target=target, at_risk_ratio=terms.at_risk_ratio, at=at
        )
    else:
        changes = reopen_clock(calendar, clock, at)
    return [(clock, event) for event in changes]


def status_changed(
    calendar: BusinessCalendar,
    clocks: Mapping[SlaMetric, SlaClock],
    terms: PlanTerms,
    *,
    priority: Priority,
    previous: TicketStatus,
    current: TicketStatus,
    change: Change,
) -> ClockEvents:
    """The clock changes a move from status ``previous`` to ``current`` causes."""
    at = change.at
    if previous == current:
        return []
    if current in DONE_STATUSES:
        return _stop_all(clocks, at)
    events: ClockEvents = []
    if previous in DONE_STATUSES:
        events += _reopen(calendar, clocks, terms, priority, at)
    if previous == NEW and change.by_staff:
        first_response = clocks.get("first_response")
        if first_response is not None:
            events += [(first_response, event) for event in stop_clock(first_response, at)]
    resolution = clocks.get("resolution")
    if resolution is not None and current in terms.pause_on:
        events += [(resolution, event) for event in pause_clock(resolution, at)]
    elif resolution is not None and previous in terms.pause_on:
        events += [(resolution, event) for event in resume_clock(calendar, resolution, at)]
    return events


def priority_changed(
    calendar: BusinessCalendar,
    clocks: Mapping[SlaMetric, SlaClock],
    targets: Mapping[SlaMetric, timedelta],
    at: datetime,
) -> ClockEvents:
    """Re-target the clocks still counting to the new priority's targets (a metric the new
    priority has no target for keeps the one it started with)."""
    return [
        (clock, event)
        for metric, clock in clocks.items()
        if metric in targets
        for event in retarget_clock(calendar, clock, targets[metric], at)
    ]


def metric_order(metric: SlaMetric) -> int:
    """Events of one change go out in catalog metric order."""
    return SLA_METRICS.index(metric)
