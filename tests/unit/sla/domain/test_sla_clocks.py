"""The SLA clock state machine, on 24x7 and on office-hours calendars (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aftercare_shared.business_time import BusinessCalendar
from aftercare_sla.domain.clocks import (
    ClockChange,
    ClockEvent,
    ClockState,
    DueTimer,
    SlaClock,
    TimerKind,
    business_elapsed,
    fire_timer,
    pause_clock,
    reopen_clock,
    resume_clock,
    retarget_clock,
    start_clock,
    stop_clock,
    timers_for,
)

ALWAYS = BusinessCalendar.from_json(None)
OFFICE = BusinessCalendar.from_json(
    {
        "timezone": "Europe/London",
        "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
)
# Friday 27 November 2026, 16:30 in London (UTC in winter).
FRIDAY_AFTERNOON = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def started(
    calendar: BusinessCalendar = ALWAYS,
    *,
    minutes: int = 60,
    at: datetime = START,
    ratio: float = 0.75,
) -> SlaClock:
    clock, events = start_clock(
        calendar,
        metric="resolution",
        target=timedelta(minutes=minutes),
        at_risk_ratio=ratio,
        started_at=at,
    )
    assert events == [ClockEvent(ClockChange.STARTED, at)]
    return clock


def test_a_24x7_clock_is_due_after_the_target_in_plain_time() -> None:
    clock = started(minutes=60)

    assert clock.state is ClockState.RUNNING
    assert clock.due_at == START + timedelta(minutes=60)
    assert clock.at_risk_at == START + timedelta(minutes=45)
    assert timers_for(clock) == [
        DueTimer(TimerKind.AT_RISK, START + timedelta(minutes=45)),
        DueTimer(TimerKind.BREACH, START + timedelta(minutes=60)),
    ]


def test_office_hours_carry_a_friday_afternoon_clock_over_the_weekend() -> None:
    clock = started(OFFICE, minutes=60, at=FRIDAY_AFTERNOON)

    # 30 minutes on Friday, the other 30 from Monday's opening.
    assert clock.due_at == MONDAY.replace(hour=9, minute=30)
    assert clock.at_risk_at == MONDAY.replace(hour=9, minute=15)


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5])
def test_an_at_risk_ratio_outside_zero_and_one_is_refused(ratio: float) -> None:
    with pytest.raises(ValueError, match="at_risk_ratio"):
        started(ratio=ratio)


def test_stopping_before_the_deadline_meets_the_target() -> None:
    clock = started(minutes=60)
    stopped_at = START + timedelta(minutes=59)

    assert stop_clock(clock, stopped_at) == [ClockEvent(ClockChange.MET, stopped_at)]
    assert clock.state is ClockState.MET
    assert (clock.met_at, clock.stopped_at, clock.breached_at) == (stopped_at, stopped_at, None)
    assert clock.version == 2
    assert timers_for(clock) == []


def test_stopping_exactly_at_the_deadline_still_meets_it() -> None:
    clock = started(minutes=60)

    assert stop_clock(clock, clock.due_at) == [ClockEvent(ClockChange.MET, clock.due_at)]


def test_stopping_late_before_any_timer_fired_breaches_at_the_deadline() -> None:
    clock = started(minutes=60)
    late = START + timedelta(minutes=90)

    assert stop_clock(clock, late) == [ClockEvent(ClockChange.BREACHED, clock.due_at)]
    assert clock.state is ClockState.BREACHED
    assert (clock.breached_at, clock.stopped_at, clock.met_at) == (clock.due_at, late, None)


def test_stopping_twice_changes_nothing_the_second_time() -> None:
    clock = started()
    stop_clock(clock, START + timedelta(minutes=1))
    version = clock.version

    assert stop_clock(clock, START + timedelta(minutes=2)) == []
    assert clock.version == version
    assert clock.stopped_at == START + timedelta(minutes=1)


def test_a_breach_timer_breaches_a_clock_that_keeps_running_until_stopped() -> None:
    clock = started(minutes=60)
    [breach] = [timer for timer in timers_for(clock) if timer.kind is TimerKind.BREACH]

    events = fire_timer(
        clock, TimerKind.BREACH, clock.version, breach.due_at + timedelta(seconds=1)
    )

    assert events == [ClockEvent(ClockChange.BREACHED, clock.due_at)]
    assert clock.state is ClockState.BREACHED
    assert clock.stopped_at is None
    assert timers_for(clock) == []
    # Stopping it later records the stop and announces nothing more: the breach stands.
    assert stop_clock(clock, START + timedelta(hours=3)) == []
    assert clock.state is ClockState.BREACHED
    assert clock.stopped_at == START + timedelta(hours=3)


def test_an_at_risk_timer_fires_once_and_then_only_the_breach_timer_is_left() -> None:
    clock = started(minutes=60)
    now = START + timedelta(minutes=46)

    assert fire_timer(clock, TimerKind.AT_RISK, clock.version, now) == [
        ClockEvent(ClockChange.AT_RISK, clock.at_risk_at)
    ]
    assert clock.at_risk_reached_at == clock.at_risk_at
    assert clock.state is ClockState.RUNNING
    assert fire_timer(clock, TimerKind.AT_RISK, clock.version, now) == []
    assert [timer.kind for timer in timers_for(clock)] == [TimerKind.BREACH]


def test_a_timer_for_an_older_version_of_the_clock_is_stale() -> None:
    clock = started(minutes=60)
    old_version = clock.version
    pause_clock(clock, START + timedelta(minutes=10))
    resume_clock(ALWAYS, clock, START + timedelta(minutes=20))

    assert fire_timer(clock, TimerKind.BREACH, old_version, START + timedelta(hours=2)) == []
    assert clock.breached_at is None


def test_timers_do_nothing_to_stopped_or_paused_clocks() -> None:
    paused = started()
    pause_clock(paused, START + timedelta(minutes=5))
    stopped = started()
    stop_clock(stopped, START + timedelta(minutes=5))
    later = START + timedelta(days=1)

    for clock in (paused, stopped):
        assert fire_timer(clock, TimerKind.AT_RISK, clock.version, later) == []
        assert fire_timer(clock, TimerKind.BREACH, clock.version, later) == []
        assert timers_for(clock) == []


def test_pausing_and_resuming_pushes_the_deadline_by_the_paused_time() -> None:
    clock = started(minutes=240)
    paused_at = START + timedelta(hours=1)
    resumed_at = START + timedelta(hours=3)

    assert pause_clock(clock, paused_at) == [ClockEvent(ClockChange.PAUSED, paused_at)]
    state_while_paused = clock.state
    assert pause_clock(clock, paused_at + timedelta(minutes=1)) == []
    assert resume_clock(ALWAYS, clock, resumed_at) == [ClockEvent(ClockChange.RESUMED, resumed_at)]

    assert (state_while_paused, clock.state) == (ClockState.PAUSED, ClockState.RUNNING)
    assert clock.due_at == START + timedelta(hours=6)
    assert clock.at_risk_at == START + timedelta(hours=5)
    assert business_elapsed(ALWAYS, clock, START + timedelta(hours=4)) == timedelta(hours=2)
    assert resume_clock(ALWAYS, clock, resumed_at) == []


def test_a_pause_outside_office_hours_does_not_move_the_deadline() -> None:
    clock = started(OFFICE, minutes=120, at=FRIDAY_AFTERNOON)
    due_before = clock.due_at

    pause_clock(clock, FRIDAY_AFTERNOON.replace(hour=18))
    resume_clock(OFFICE, clock, MONDAY.replace(hour=8))

    assert clock.due_at == due_before == MONDAY.replace(hour=10, minute=30)


def test_a_paused_clock_counts_no_time_and_cannot_breach_while_paused() -> None:
    clock = started(minutes=60)
    paused_at = START + timedelta(minutes=30)
    pause_clock(clock, paused_at)

    assert business_elapsed(ALWAYS, clock, START + timedelta(days=2)) == timedelta(minutes=30)
    assert stop_clock(clock, START + timedelta(days=2)) == [
        ClockEvent(ClockChange.MET, START + timedelta(days=2))
    ]


def test_pausing_after_an_unannounced_deadline_breaches_first() -> None:
    clock = started(minutes=60)
    late = START + timedelta(minutes=70)

    assert pause_clock(clock, late) == [
        ClockEvent(ClockChange.BREACHED, START + timedelta(minutes=60)),
        ClockEvent(ClockChange.PAUSED, late),
    ]
    assert clock.state is ClockState.BREACHED
    assert clock.paused_at == late


def test_reopening_a_met_clock_resumes_it_with_the_closed_stretch_excluded() -> None:
    clock = started(minutes=240)
    resolved_at = START + timedelta(hours=1)
    reopened_at = START + timedelta(hours=5)
    stop_clock(clock, resolved_at)

    assert reopen_clock(ALWAYS, clock, reopened_at) == [
        ClockEvent(ClockChange.RESUMED, reopened_at)
    ]
    assert clock.state is ClockState.RUNNING
    assert (clock.stopped_at, clock.met_at) == (None, None)
    # Three hours were left at the stop; they count from the reopening.
    assert clock.due_at == reopened_at + timedelta(hours=3)
    assert [timer.kind for timer in timers_for(clock)] == [TimerKind.AT_RISK, TimerKind.BREACH]
    assert reopen_clock(ALWAYS, clock, reopened_at) == []


def test_reopening_a_breached_clock_keeps_the_breach_and_its_deadline() -> None:
    clock = started(minutes=60)
    due_at = clock.due_at
    stop_clock(clock, START + timedelta(hours=2))

    reopen_clock(ALWAYS, clock, START + timedelta(hours=3))

    assert clock.state is ClockState.BREACHED
    assert clock.stopped_at is None
    assert clock.due_at == due_at
    assert timers_for(clock) == []


def test_a_higher_priority_moves_the_deadline_and_breaches_when_it_is_already_past() -> None:
    clock = started(minutes=240)
    at = START + timedelta(hours=2)

    assert retarget_clock(ALWAYS, clock, timedelta(minutes=60), at) == [
        ClockEvent(ClockChange.BREACHED, START + timedelta(minutes=60))
    ]
    assert clock.target == timedelta(minutes=60)
    assert clock.state is ClockState.BREACHED


def test_a_lower_priority_gives_more_time_and_clears_a_stale_at_risk_mark() -> None:
    clock = started(minutes=60)
    fire_timer(clock, TimerKind.AT_RISK, clock.version, START + timedelta(minutes=50))
    version = clock.version

    assert (
        retarget_clock(ALWAYS, clock, timedelta(minutes=240), START + timedelta(minutes=55)) == []
    )
    assert clock.due_at == START + timedelta(hours=4)
    assert clock.at_risk_at == START + timedelta(hours=3)
    assert clock.at_risk_reached_at is None
    assert clock.version == version + 1


def test_stopped_and_breached_clocks_keep_their_target() -> None:
    stopped = started(minutes=60)
    stop_clock(stopped, START + timedelta(minutes=5))
    breached = started(minutes=60)
    stop_clock(breached, START + timedelta(hours=2))
    reopen_clock(ALWAYS, breached, START + timedelta(hours=2))

    for clock in (stopped, breached):
        assert (
            retarget_clock(ALWAYS, clock, timedelta(minutes=600), START + timedelta(hours=3)) == []
        )
        assert clock.target == timedelta(minutes=60)


def test_elapsed_business_time_stops_with_the_clock() -> None:
    clock = started(OFFICE, minutes=600, at=FRIDAY_AFTERNOON)
    stop_clock(clock, MONDAY.replace(hour=10))

    assert business_elapsed(OFFICE, clock, MONDAY.replace(hour=15)) == timedelta(minutes=90)
