"""Intake's pure rules."""

from __future__ import annotations

import pytest

from aftercare_intake import domain


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("critical", "P1"), ("high", "P2"), ("medium", "P3"), ("low", "P4")],
)
def test_severity_maps_to_priority(severity: str, priority: str) -> None:
    assert domain.priority_for(severity) == priority


def test_default_fingerprint_ignores_varying_numbers_and_ids() -> None:
    first = domain.default_fingerprint(
        title="Order 1234 failed for 0x7ffe", kind="error", stacktrace=None
    )
    second = domain.default_fingerprint(
        title="order 98 failed for 0xdeadbeef", kind="error", stacktrace=None
    )
    other_kind = domain.default_fingerprint(
        title="Order 1234 failed for 0x7ffe", kind="crash", stacktrace=None
    )
    assert first == second
    assert first != other_kind


def test_transitions() -> None:
    domain.check_transition("new", "in_progress")
    domain.check_transition("resolved", "triaged")
    with pytest.raises(domain.TransitionNotAllowedError):
        domain.check_transition("resolved", "new")
    assert domain.is_reopen("closed", "triaged")
    assert not domain.is_reopen("new", "triaged")


def test_occurrence_announcements_are_milestones_only() -> None:
    announced = [count for count in range(1, 2_001) if domain.announces_occurrence(count)]
    assert announced == [2, 10, 100, 1_000]
