"""How ticket status, comments and priority drive the two clocks (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.events.catalog import Priority, SlaMetric, TicketStatus
from aftercare_sla.domain.clocks import ClockChange, ClockState, SlaClock
from aftercare_sla.domain.ticket_lifecycle import (
    ClockEvents,
    clock_targets,
    first_response_given,
    priority_changed,
    start_ticket_clocks,
    status_changed,
)

ALWAYS = BusinessCalendar.from_json(None)
CREATED_AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PLAN_TARGETS = {
    "P1": {"first_response_minutes": 15, "resolution_minutes": 120},
    "P2": {"first_response_minutes": 60, "resolution_minutes": 480},
    "P3": {"first_response_minutes": 240, "resolution_minutes": 1440},
    "P4": {"first_response_minutes": 480, "resolution_minutes": 4800},
}


def ticket_clocks(priority: Priority = "P2") -> dict[SlaMetric, SlaClock]:
    clocks, events = start_ticket_clocks(
        ALWAYS,
        targets=clock_targets(PLAN_TARGETS, priority),
        at_risk_ratio=0.75,
        created_at=CREATED_AT,
    )
    assert [(clock.metric, event.change) for clock, event in events] == [
        ("first_response", ClockChange.STARTED),
        ("resolution", ClockChange.STARTED),
    ]
    return clocks


def changes(events: ClockEvents) -> list[tuple[SlaMetric, ClockChange]]:
    return [(clock.metric, event.change) for clock, event in events]


def later(minutes: int) -> datetime:
    return CREATED_AT + timedelta(minutes=minutes)


def test_targets_come_from_the_plan_for_the_ticket_priority() -> None:
    assert clock_targets(PLAN_TARGETS, "P1") == {
        "first_response": timedelta(minutes=15),
        "resolution": timedelta(minutes=120),
    }


@pytest.mark.parametrize("status", ["triaged", "in_progress"])
def test_leaving_new_is_the_first_response(status: TicketStatus) -> None:
    clocks = ticket_clocks()

    events = status_changed(ALWAYS, clocks, previous="new", current=status, at=later(10))

    assert changes(events) == [("first_response", ClockChange.MET)]
    assert clocks["resolution"].state is ClockState.RUNNING


def test_a_staff_answer_is_the_first_response() -> None:
    clocks = ticket_clocks()

    assert changes(first_response_given(clocks, later(5))) == [("first_response", ClockChange.MET)]
    assert first_response_given(clocks, later(6)) == []


def test_waiting_on_the_client_pauses_resolution_and_leaving_it_resumes() -> None:
    clocks = ticket_clocks()

    paused = status_changed(
        ALWAYS, clocks, previous="new", current="waiting_on_client", at=later(30)
    )
    resumed = status_changed(
        ALWAYS, clocks, previous="waiting_on_client", current="in_progress", at=later(90)
    )

    assert changes(paused) == [
        ("first_response", ClockChange.MET),
        ("resolution", ClockChange.PAUSED),
    ]
    assert changes(resumed) == [("resolution", ClockChange.RESUMED)]
    assert clocks["resolution"].due_at == CREATED_AT + timedelta(minutes=480 + 60)


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_resolving_or_closing_stops_every_clock_still_counting(status: TicketStatus) -> None:
    clocks = ticket_clocks()

    events = status_changed(ALWAYS, clocks, previous="new", current=status, at=later(20))

    assert changes(events) == [
        ("first_response", ClockChange.MET),
        ("resolution", ClockChange.MET),
    ]
    assert all(clock.is_stopped for clock in clocks.values())


def test_reopening_resumes_resolution_and_leaves_the_first_response_given() -> None:
    clocks = ticket_clocks()
    status_changed(ALWAYS, clocks, previous="new", current="resolved", at=later(60))

    events = status_changed(ALWAYS, clocks, previous="resolved", current="triaged", at=later(600))

    assert changes(events) == [("resolution", ClockChange.RESUMED)]
    assert clocks["first_response"].state is ClockState.MET
    assert clocks["resolution"].due_at == later(600 + 420)


def test_reopening_to_waiting_on_the_client_resumes_and_pauses_resolution_at_once() -> None:
    clocks = ticket_clocks()
    status_changed(ALWAYS, clocks, previous="new", current="resolved", at=later(60))

    events = status_changed(
        ALWAYS, clocks, previous="resolved", current="waiting_on_client", at=later(600)
    )

    assert changes(events) == [
        ("resolution", ClockChange.RESUMED),
        ("resolution", ClockChange.PAUSED),
    ]
    resolution = clocks["resolution"]
    assert resolution.state is ClockState.PAUSED
    assert resolution.paused_at == later(600)
    # Nothing counted while resolved or since the pause: 60 of 480 minutes are used.
    assert resolution.due_at == later(600 + 420)
    assert clocks["first_response"].state is ClockState.MET


def test_reopening_to_new_leaves_the_first_response_given() -> None:
    clocks = ticket_clocks()
    status_changed(ALWAYS, clocks, previous="new", current="closed", at=later(60))

    reopened = status_changed(ALWAYS, clocks, previous="closed", current="new", at=later(600))
    triaged = status_changed(ALWAYS, clocks, previous="new", current="triaged", at=later(610))

    assert changes(reopened) == [("resolution", ClockChange.RESUMED)]
    assert triaged == []
    assert clocks["first_response"].met_at == later(60)


def test_an_unchanged_status_changes_nothing() -> None:
    clocks = ticket_clocks()

    assert status_changed(ALWAYS, clocks, previous="new", current="new", at=later(1)) == []


def test_a_priority_change_retargets_only_the_clocks_still_counting() -> None:
    clocks = ticket_clocks("P3")
    first_response_given(clocks, later(10))

    events = priority_changed(ALWAYS, clocks, clock_targets(PLAN_TARGETS, "P1"), later(20))

    assert events == []  # nothing breached: the new deadline is still ahead
    assert clocks["first_response"].target == timedelta(minutes=240)
    assert clocks["resolution"].target == timedelta(minutes=120)
    assert clocks["resolution"].due_at == later(120)


def test_clockless_tickets_are_left_alone() -> None:
    assert (
        status_changed(ALWAYS, {}, previous="new", current="waiting_on_client", at=later(1)) == []
    )
    assert first_response_given({}, later(1)) == []
