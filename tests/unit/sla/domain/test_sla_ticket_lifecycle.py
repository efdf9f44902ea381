"""How ticket status, comments and priority drive the clocks (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.events.catalog import Priority, SlaMetric, TicketStatus
from aftercare_sla.domain.clocks import ClockChange, ClockState, SlaClock
from aftercare_sla.domain.ticket_lifecycle import (
    Change,
    ClockEvents,
    PlanTerms,
    client_replied,
    priority_changed,
    resolved_by_fix,
    staff_replied,
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
TERMS = PlanTerms(targets=PLAN_TARGETS, at_risk_ratio=0.75)


def ticket_clocks(priority: Priority = "P2", terms: PlanTerms = TERMS) -> dict[SlaMetric, SlaClock]:
    clocks, events = start_ticket_clocks(ALWAYS, terms, priority=priority, started_at=CREATED_AT)
    assert [(clock.metric, event.change) for clock, event in events] == [
        ("first_response", ClockChange.STARTED),
        ("resolution", ClockChange.STARTED),
    ]
    return clocks


def changes(events: ClockEvents) -> list[tuple[SlaMetric, ClockChange]]:
    return [(clock.metric, event.change) for clock, event in events]


def later(minutes: int) -> datetime:
    return CREATED_AT + timedelta(minutes=minutes)


def moved(
    clocks: dict[SlaMetric, SlaClock],
    previous: TicketStatus,
    current: TicketStatus,
    minutes: int,
    *,
    terms: PlanTerms = TERMS,
    by_staff: bool = True,
) -> ClockEvents:
    return status_changed(
        ALWAYS,
        clocks,
        terms,
        priority="P2",
        previous=previous,
        current=current,
        change=Change(later(minutes), by_staff=by_staff),
    )


def test_targets_come_from_the_plan_for_the_ticket_priority() -> None:
    assert TERMS.targets_for("P1") == {
        "first_response": timedelta(minutes=15),
        "resolution": timedelta(minutes=120),
    }


@pytest.mark.parametrize("status", ["triaged", "in_progress"])
def test_leaving_new_is_the_first_response(status: TicketStatus) -> None:
    clocks = ticket_clocks()

    events = moved(clocks, "new", status, 10)

    assert changes(events) == [("first_response", ClockChange.MET)]
    assert clocks["resolution"].state is ClockState.RUNNING


def test_a_staff_answer_is_the_first_response() -> None:
    clocks = ticket_clocks()

    assert changes(staff_replied(clocks, later(5))) == [("first_response", ClockChange.MET)]
    assert staff_replied(clocks, later(6)) == []


def test_waiting_on_the_client_pauses_resolution_and_leaving_it_resumes() -> None:
    clocks = ticket_clocks()

    paused = moved(clocks, "new", "waiting_on_client", 30)
    resumed = moved(clocks, "waiting_on_client", "in_progress", 90)

    assert changes(paused) == [
        ("first_response", ClockChange.MET),
        ("resolution", ClockChange.PAUSED),
    ]
    assert changes(resumed) == [("resolution", ClockChange.RESUMED)]
    assert clocks["resolution"].due_at == CREATED_AT + timedelta(minutes=480 + 60)


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_resolving_or_closing_stops_every_clock_still_counting(status: TicketStatus) -> None:
    clocks = ticket_clocks()

    events = moved(clocks, "new", status, 20)

    assert changes(events) == [
        ("first_response", ClockChange.MET),
        ("resolution", ClockChange.MET),
    ]
    assert all(clock.is_stopped for clock in clocks.values())


def test_reopening_resumes_resolution_and_leaves_the_staff_replied() -> None:
    clocks = ticket_clocks()
    moved(clocks, "new", "resolved", 60)

    events = moved(clocks, "resolved", "triaged", 600)

    assert changes(events) == [("resolution", ClockChange.RESUMED)]
    assert clocks["first_response"].state is ClockState.MET
    assert clocks["resolution"].due_at == later(600 + 420)


def test_reopening_to_waiting_on_the_client_resumes_and_pauses_resolution_at_once() -> None:
    clocks = ticket_clocks()
    moved(clocks, "new", "resolved", 60)

    events = moved(clocks, "resolved", "waiting_on_client", 600)

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


def test_reopening_to_new_leaves_the_staff_replied() -> None:
    clocks = ticket_clocks()
    moved(clocks, "new", "closed", 60)

    reopened = moved(clocks, "closed", "new", 600)
    triaged = moved(clocks, "new", "triaged", 610)

    assert changes(reopened) == [("resolution", ClockChange.RESUMED)]
    assert triaged == []
    assert clocks["first_response"].met_at == later(60)


def test_an_unchanged_status_changes_nothing() -> None:
    clocks = ticket_clocks()

    assert moved(clocks, "new", "new", 1) == []


def test_a_priority_change_retargets_only_the_clocks_still_counting() -> None:
    clocks = ticket_clocks("P3")
    staff_replied(clocks, later(10))

    events = priority_changed(ALWAYS, clocks, TERMS.targets_for("P1"), later(20))

    assert events == []  # nothing breached: the new deadline is still ahead
    assert clocks["first_response"].target == timedelta(minutes=240)
    assert clocks["resolution"].target == timedelta(minutes=120)
    assert clocks["resolution"].due_at == later(120)


def test_clockless_tickets_are_left_alone() -> None:
    assert moved({}, "new", "waiting_on_client", 1) == []
    assert staff_replied({}, later(1)) == []


# --- the desk's rules: who answers, next response, pause_on, on_reopen -------------------

NEXT_RESPONSE_TERMS = PlanTerms(
    targets={
        priority: {**minutes, "next_response_minutes": 30}
        for priority, minutes in PLAN_TARGETS.items()
    },
    at_risk_ratio=0.75,
)


def test_a_client_or_system_status_change_is_not_the_first_response() -> None:
    clocks = ticket_clocks()

    assert moved(clocks, "new", "triaged", 10, by_staff=False) == []
    assert clocks["first_response"].state is ClockState.RUNNING


def test_a_fix_before_any_answer_meets_the_first_response_by_resolution() -> None:
    clocks = ticket_clocks()

    events = resolved_by_fix(clocks, later(20))

    assert changes(events) == [("first_response", ClockChange.MET), ("resolution", ClockChange.MET)]
    assert clocks["first_response"].outcome == "met_by_resolution"
    assert clocks["resolution"].outcome == "met"


def test_a_fix_after_a_breached_first_response_leaves_the_breach() -> None:
    clocks = ticket_clocks()

    events = resolved_by_fix(clocks, later(90))

    assert changes(events)[0] == ("first_response", ClockChange.BREACHED)
    assert clocks["first_response"].outcome == "breached"


def test_each_answered_client_reply_is_a_next_response_cycle() -> None:
    clocks = ticket_clocks(terms=NEXT_RESPONSE_TERMS)

    def client(minutes: int) -> ClockEvents:
        return client_replied(
            ALWAYS,
            clocks,
            NEXT_RESPONSE_TERMS,
            priority="P2",
            status="in_progress",
            at=later(minutes),
        )

    assert client(5) == []  # before the first response, that clock covers it
    staff_replied(clocks, later(10))
    assert changes(client(20)) == [("next_response", ClockChange.STARTED)]
    assert client(25) == []  # counts from the oldest unanswered reply
    assert clocks["next_response"].due_at == later(50)
    assert changes(staff_replied(clocks, later(40))) == [("next_response", ClockChange.MET)]
    assert changes(client(60)) == [("next_response", ClockChange.STARTED)]
    second = clocks["next_response"]
    assert (second.cycle, second.started_at, second.due_at) == (2, later(60), later(90))
    assert second.state is ClockState.RUNNING


def test_no_next_response_without_a_target_or_on_a_resolved_ticket() -> None:
    clocks = ticket_clocks()
    staff_replied(clocks, later(1))

    assert client_replied(ALWAYS, clocks, TERMS, priority="P2", status="triaged", at=later(5)) == []
    assert (
        client_replied(
            ALWAYS, clocks, NEXT_RESPONSE_TERMS, priority="P2", status="resolved", at=later(5)
        )
        == []
    )


def test_pause_on_names_the_statuses_that_pause_resolution() -> None:
    terms = PlanTerms(targets=PLAN_TARGETS, at_risk_ratio=0.75, pause_on=frozenset({"triaged"}))
    clocks = ticket_clocks(terms=terms)

    assert changes(moved(clocks, "new", "triaged", 10, terms=terms)) == [
        ("first_response", ClockChange.MET),
        ("resolution", ClockChange.PAUSED),
    ]
    # waiting_on_client is not in this plan's pause_on: resolution counts again.
    assert changes(moved(clocks, "triaged", "waiting_on_client", 20, terms=terms)) == [
        ("resolution", ClockChange.RESUMED)
    ]
    assert moved(clocks, "waiting_on_client", "in_progress", 30, terms=terms) == []
    assert clocks["resolution"].due_at == later(480 + 10)


def test_on_reopen_restart_starts_a_new_resolution_cycle_with_the_full_target() -> None:
    terms = PlanTerms(targets=PLAN_TARGETS, at_risk_ratio=0.75, on_reopen="restart")
    clocks = ticket_clocks(terms=terms)
    moved(clocks, "new", "resolved", 60, terms=terms)

    events = moved(clocks, "resolved", "triaged", 600, terms=terms)

    resolution = clocks["resolution"]
    assert changes(events) == [("resolution", ClockChange.STARTED)]
    assert (resolution.cycle, resolution.started_at, resolution.due_at) == (
        2,
        later(600),
        later(1080),
    )
