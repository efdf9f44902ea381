"""Intake's pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aftercare_intake import domain
from aftercare_intake.domain import earliest_counting_due, ticket_kind
from aftercare_intake.errors import TransitionNotAllowedError
from aftercare_intake.reply_rules import Reply, status_after_reply
from aftercare_shared.errors import ConflictError
from aftercare_shared.events.catalog import TICKET_STATUSES, Priority, Severity, TicketStatus


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("critical", "P1"), ("high", "P2"), ("medium", "P3"), ("low", "P4")],
)
def test_severity_maps_to_priority(severity: Severity, priority: Priority) -> None:
    assert domain.priority_for(severity) == priority


def test_transitions() -> None:
    domain.check_transition("new", "in_progress")
    domain.check_transition("resolved", "triaged")
    with pytest.raises(TransitionNotAllowedError):
        domain.check_transition("resolved", "new")
    assert domain.is_reopen("closed", "triaged")
    assert not domain.is_reopen("new", "triaged")


def test_a_refused_transition_is_a_conflict() -> None:
    # The app answers 409 transition-not-allowed for it, with no route code in between.
    assert issubclass(TransitionNotAllowedError, ConflictError)


def test_a_finished_ticket_reopens_to_the_reopened_status() -> None:
    assert domain.REOPENED_STATUS == "triaged"
    for finished in domain.FINISHED_STATUSES:
        domain.check_transition(finished, domain.REOPENED_STATUS)
        assert domain.is_reopen(finished, domain.REOPENED_STATUS)


def test_open_statuses_are_the_catalog_ones_not_finished() -> None:
    assert domain.OPEN_STATUSES == ("new", "triaged", "in_progress", "waiting_on_client")
    assert set(domain.OPEN_STATUSES) | domain.FINISHED_STATUSES == set(TICKET_STATUSES)
    assert set(domain.ALLOWED_TRANSITIONS) == set(TICKET_STATUSES)


# --- the support desk's reply rules ----------------------------------------------------------

_RESOLVED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
_WINDOW = timedelta(days=7)


@pytest.mark.parametrize(
    ("status", "reply", "after", "expected"),
    [
        ("in_progress", Reply("staff", "public", "waiting_on_client"), 0, "waiting_on_client"),
        ("in_progress", Reply("staff", "public"), 0, None),
        ("waiting_on_client", Reply("staff", "internal"), 0, None),
        ("waiting_on_client", Reply("client", "public"), 0, "in_progress"),
        ("new", Reply("client", "public"), 0, None),
        ("resolved", Reply("client", "public"), 7, "triaged"),
        ("resolved", Reply("client", "public"), 8, None),
        ("resolved", Reply("staff", "public"), 1, None),
        ("closed", Reply("client", "public"), 1, None),
    ],
)
def test_replies_move_tickets_by_the_desks_rules(
    status: TicketStatus, reply: Reply, after: int, expected: TicketStatus | None
) -> None:
    move = status_after_reply(
        status,
        _RESOLVED_AT if status == "resolved" else None,
        reply,
        now=_RESOLVED_AT + timedelta(days=after),
        reopen_window=_WINDOW,
    )
    assert (move.to if move else None) == expected
    assert (move is not None and move.reopens) == (expected == "triaged")


def test_a_staff_reply_cannot_ask_a_resolved_ticket_to_wait() -> None:
    with pytest.raises(TransitionNotAllowedError):
        status_after_reply(
            "resolved",
            _RESOLVED_AT,
            Reply("staff", "public", "waiting_on_client"),
            now=_RESOLVED_AT,
            reopen_window=_WINDOW,
        )


def test_filed_kinds_keep_the_closed_set_and_fall_back_to_bug() -> None:
    assert [ticket_kind(k) for k in ("incident", "security", "KeyError", None)] == [
        "incident",
        "security",
        "bug",
        "bug",
    ]


def test_the_sla_due_sort_key_is_the_soonest_counting_clock() -> None:
    status = {
        "first_response": {"state": "met", "due_at": "2026-12-01T10:00:00+00:00"},
        "resolution": {"state": "running", "due_at": "2026-12-03T10:00:00+00:00"},
        "next_response": {"state": "breached", "due_at": "2026-12-02T10:00:00+00:00"},
    }
    assert earliest_counting_due(status) == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert earliest_counting_due({"resolution": {"state": "paused", "due_at": "x"}}) is None
