"""The SLA clock state machine: pure, no database, every deadline from the business-time engine.

A clock measures business time from ``started_at`` towards ``target``. Its state is derived
from its timestamps, never stored separately:

- ``met``: stopped at or before ``due_at`` (``met_at`` set);
- ``breached``: business time passed ``target`` (``breached_at`` = the deadline). A breached
  clock keeps running until the ticket stops it (then ``stopped_at`` is set too);
- ``paused``: waiting on the client (``paused_at`` set); paused time never counts;
- ``cancelled``: stopped without a verdict (its client's plan was un-assigned);
- ``running``: everything else.

A stopped clock may say how it ended in ``outcome`` (``met_by_resolution``: a first
response the ticket's resolution made moot, counted as met but reported apart;
``cancelled``). A clock that measures something that recurs (``next_response`` after each
client reply, ``resolution`` reopened under a ``restart`` plan) starts a new ``cycle`` in
the same clock: :func:`restart_clock`.

``due_at`` is always the instant business time would reach ``target`` if the clock runs
from now on without another pause (for a paused clock: were it resumed right away). Each
change that moves a deadline or stops the clock bumps ``version``; durable timers carry the
version they were scheduled for, so a timer for an older version is stale and dropped.

Every transition takes the instant it happens (``at``, from the ticket event) and returns
the :class:`ClockEvent` list to publish. Transitions that do not apply (stopping a stopped
clock, pausing a paused one) return nothing: re-delivered or overlapping ticket events are
harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from aftercare_shared.business_time import (
    BusinessCalendar,
    Pause,
    add_business_time_with_pauses,
    business_time_between_with_pauses,
)
from aftercare_shared.events.catalog import SlaMetric, SlaOutcome


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class ClockChange(StrEnum):
    """What happened to a clock; ``sla.<value>`` is the event type announcing it."""

    STARTED = "clock_started"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    PAUSED = "paused"
    RESUMED = "resumed"
    CANCELLED = "cancelled"
    DUE_CHANGED = "due_changed"


class TimerKind(StrEnum):
    AT_RISK = "at_risk"
    BREACH = "breach"


@dataclass(frozen=True, slots=True)
class ClockEvent:
    change: ClockChange
    occurred_at: datetime
    previous_due_at: datetime | None = None
    """For ``due_changed``: the due time before the change."""


@dataclass(frozen=True, slots=True)
class DueTimer:
    """A durable timer to schedule: fire ``kind`` at ``due_at`` for clock ``version``."""

    kind: TimerKind
    due_at: datetime


@dataclass(slots=True)
class SlaClock:
    metric: SlaMetric
    target: timedelta
    at_risk_ratio: float
    started_at: datetime
    due_at: datetime
    at_risk_at: datetime
    pauses: list[Pause] = field(default_factory=list)
    """Closed pauses ``[start, end)``: waiting on the client, or resolved until reopened."""
    paused_at: datetime | None = None
    stopped_at: datetime | None = None
    met_at: datetime | None = None
    breached_at: datetime | None = None
    at_risk_reached_at: datetime | None = None
    version: int = 1
    cycle: int = 1
    outcome: SlaOutcome | None = None

    @property
    def state(self) -> ClockState:
        if self.met_at is not None:
            return ClockState.MET
        if self.breached_at is not None:
            return ClockState.BREACHED
        if self.outcome == "cancelled":
            return ClockState.CANCELLED
        if self.paused_at is not None:
            return ClockState.PAUSED
        return ClockState.RUNNING

    @property
    def is_stopped(self) -> bool:
        return self.stopped_at is not None


def start_clock(
    calendar: BusinessCalendar,
    *,
    metric: SlaMetric,
    target: timedelta,
    at_risk_ratio: float,
    started_at: datetime,
) -> tuple[SlaClock, list[ClockEvent]]:
    """A new running clock with its deadlines, and the ``clock_started`` event."""
    if not 0 < at_risk_ratio < 1:
        raise ValueError(f"at_risk_ratio must be between 0 and 1, got {at_risk_ratio}")
    clock = SlaClock(
        metric=metric,
        target=target,
        at_risk_ratio=at_risk_ratio,
        started_at=started_at,
        due_at=started_at,
        at_risk_at=started_at,
    )
    _reschedule(calendar, clock)
    return clock, [ClockEvent(ClockChange.STARTED, started_at)]


def stop_clock(clock: SlaClock, at: datetime, *, by_resolution: bool = False) -> list[ClockEvent]:
    """Stop the clock (first response given, ticket resolved or closed): met or breached.

    ``by_resolution``: the ticket was resolved before anyone answered; a clock not yet
    breached is met with the outcome ``met_by_resolution`` so reports can tell it apart.
    """
    if clock.is_stopped:
        return []
    at = max(at, clock.started_at)
    events = _catch_up_breach(clock, at)
    _end_pause(clock, at)
    clock.stopped_at = at
    if clock.breached_at is None:
        clock.met_at = at
        clock.outcome = "met_by_resolution" if by_resolution else "met"
        events.append(ClockEvent(ClockChange.MET, at))
    else:
        clock.outcome = "breached"
    clock.version += 1
    return events


def cancel_clock(clock: SlaClock, at: datetime) -> list[ClockEvent]:
    """Stop the clock without a verdict: the plan that made the promise no longer applies.

    A breach already announced stays on record (``breached_at``); the clock just stops.
    """
    if clock.is_stopped:
        return []
    at = max(at, clock.started_at)
    _end_pause(clock, at)
    clock.stopped_at = at
    clock.outcome = "cancelled"
    clock.version += 1
    return [ClockEvent(ClockChange.CANCELLED, at)]


def restart_clock(
    calendar: BusinessCalendar,
    clock: SlaClock,
    *,
    target: timedelta,
    at_risk_ratio: float,
    at: datetime,
) -> list[ClockEvent]:
    """Start a new cycle of a stopped clock from ``at`` with the full ``target``.

    The previous cycle's outcome was announced when it stopped; the new cycle starts clean
    (no pauses, no breach) and its version continues, so the old cycle's timers are stale.
    """
    if not clock.is_stopped:
        return []
    fresh, events = start_clock(
        calendar, metric=clock.metric, target=target, at_risk_ratio=at_risk_ratio, started_at=at
    )
    fresh.version = clock.version + 1
    fresh.cycle = clock.cycle + 1
    _replace(clock, fresh)
    return events


def recompute_due(calendar: BusinessCalendar, clock: SlaClock, at: datetime) -> list[ClockEvent]:
    """The calendar changed: move the deadlines of a clock still counting.

    Stopped and breached clocks keep theirs (their outcome is history); a paused clock's
    deadlines are computed again with the calendar of the day it resumes. Returns
    ``due_changed`` when the due time moved; a past due time is left to the breach timer,
    which fires at its next round.
    """
    if clock.is_stopped or clock.breached_at is not None or clock.paused_at is not None:
        return []
    previous_due = clock.due_at
    previous_at_risk = clock.at_risk_at
    _reschedule(calendar, clock)
    if clock.due_at == previous_due and clock.at_risk_at == previous_at_risk:
        return []
    clock.version += 1
    if clock.at_risk_reached_at is not None and at < clock.at_risk_at:
        clock.at_risk_reached_at = None
    return [ClockEvent(ClockChange.DUE_CHANGED, at, previous_due_at=previous_due)]


def pause_clock(clock: SlaClock, at: datetime) -> list[ClockEvent]:
    """Stop counting business time (the ticket waits on the client)."""
    if clock.is_stopped or clock.paused_at is not None:
        return []
    at = max(at, clock.started_at)
    events = _catch_up_breach(clock, at)
    clock.paused_at = at
    clock.version += 1
    events.append(ClockEvent(ClockChange.PAUSED, at))
    return events


def resume_clock(calendar: BusinessCalendar, clock: SlaClock, at: datetime) -> list[ClockEvent]:
    """Count again after a pause; the deadlines move by the paused business time."""
    if clock.is_stopped or clock.paused_at is None:
        return []
    _end_pause(clock, at)
    return _continue(calendar, clock, at)


def reopen_clock(calendar: BusinessCalendar, clock: SlaClock, at: datetime) -> list[ClockEvent]:
    """Resume a stopped clock (the ticket was reopened).

    The time between the stop and the reopening is excluded like a pause, so the clock
    carries on where it stopped instead of starting a new cycle: a reopened ticket has no
    more time than it had left, and no less. A clock that had breached stays breached.
    """
    if clock.stopped_at is None or clock.outcome == "cancelled":
        return []
    at = max(at, clock.stopped_at)
    clock.pauses.append((clock.stopped_at, at))
    clock.stopped_at = None
    clock.met_at = None
    clock.outcome = None
    return _continue(calendar, clock, at)


def retarget_clock(
    calendar: BusinessCalendar, clock: SlaClock, target: timedelta, at: datetime
) -> list[ClockEvent]:
    """Apply a new target (the ticket's priority changed) to a clock still counting.

    Deadlines are recomputed from the original start with the new target, as if the
    ticket had had the new priority all along; a deadline that is already past breaches
    at once, and a clock no longer at risk will be announced again when it is. Stopped
    and breached clocks keep their target: a stopped clock's outcome and a breach that
    was announced are history.
    """
    if clock.is_stopped or clock.breached_at is not None or target == clock.target:
        return []
    at = max(at, clock.started_at)
    clock.target = target
    _reschedule(calendar, clock)
    clock.version += 1
    if clock.at_risk_reached_at is not None and (clock.paused_at or at) < clock.at_risk_at:
        clock.at_risk_reached_at = None
    return _catch_up_breach(clock, at)


def fire_timer(clock: SlaClock, kind: TimerKind, version: int, now: datetime) -> list[ClockEvent]:
    """A durable timer is due: announce at-risk or breach unless the timer is stale."""
    if version != clock.version or clock.is_stopped or clock.paused_at is not None:
        return []
    if kind is TimerKind.BREACH:
        return _catch_up_breach(clock, now)
    if clock.at_risk_reached_at is not None or clock.breached_at is not None:
        return []
    clock.at_risk_reached_at = clock.at_risk_at
    return [ClockEvent(ClockChange.AT_RISK, clock.at_risk_at)]


def timers_for(clock: SlaClock) -> list[DueTimer]:
    """The timers a clock needs now: none once it is stopped, paused or breached."""
    if clock.is_stopped or clock.paused_at is not None or clock.breached_at is not None:
        return []
    timers = [DueTimer(TimerKind.BREACH, clock.due_at)]
    if clock.at_risk_reached_at is None:
        timers.insert(0, DueTimer(TimerKind.AT_RISK, clock.at_risk_at))
    return timers


def business_elapsed(calendar: BusinessCalendar, clock: SlaClock, now: datetime) -> timedelta:
    """Business time the clock has counted up to ``now`` (or up to its stop)."""
    end = max(clock.stopped_at or now, clock.started_at)
    pauses = list(clock.pauses)
    if clock.paused_at is not None:
        pauses.append((clock.paused_at, max(end, clock.paused_at)))
    return business_time_between_with_pauses(calendar, clock.started_at, end, pauses)


def _reschedule(calendar: BusinessCalendar, clock: SlaClock) -> None:
    clock.due_at = add_business_time_with_pauses(
        calendar, clock.started_at, clock.target, clock.pauses
    )
    clock.at_risk_at = add_business_time_with_pauses(
        calendar, clock.started_at, clock.target * clock.at_risk_ratio, clock.pauses
    )


def _continue(calendar: BusinessCalendar, clock: SlaClock, at: datetime) -> list[ClockEvent]:
    # A breach is final: its deadline is the one that was missed, so it does not move.
    if clock.breached_at is None:
        _reschedule(calendar, clock)
    clock.version += 1
    return [ClockEvent(ClockChange.RESUMED, at), *_catch_up_breach(clock, at)]


def _replace(clock: SlaClock, fresh: SlaClock) -> None:
    for name in SlaClock.__slots__:
        setattr(clock, name, getattr(fresh, name))


def _end_pause(clock: SlaClock, at: datetime) -> None:
    if clock.paused_at is not None:
        clock.pauses.append((clock.paused_at, max(at, clock.paused_at)))
        clock.paused_at = None


def _catch_up_breach(clock: SlaClock, at: datetime) -> list[ClockEvent]:
    """Breach now if the deadline passed before ``at`` and no timer has said so yet.

    Timers fire only as often as the timer job runs, so a ticket event can be the first to
    notice. A paused clock counts nothing after its pause began, so that is its "now".
    """
    if clock.breached_at is not None or clock.is_stopped:
        return []
    counted_until = clock.paused_at or at
    if counted_until <= clock.due_at:
        return []
    clock.breached_at = clock.due_at
    return [ClockEvent(ClockChange.BREACHED, clock.due_at)]
