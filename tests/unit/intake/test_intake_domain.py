"""Intake's pure rules."""

from __future__ import annotations

import pytest

from aftercare_intake import domain
from aftercare_intake.errors import TransitionNotAllowedError
from aftercare_shared.errors import ConflictError
from aftercare_shared.events.catalog import TICKET_STATUSES, Priority, Severity


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
