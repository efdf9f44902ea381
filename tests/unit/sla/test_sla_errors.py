"""sla's refusals: status codes and problem types clients rely on (no I/O)."""

from __future__ import annotations

import pytest

from aftercare_shared.errors import DomainError
from aftercare_sla.errors import (
    PROBLEM_TYPES,
    ClientPlanNotFoundError,
    InvalidCalendarError,
    PlanNotFoundError,
    TicketNotFoundError,
    UnknownPlanError,
)


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        pytest.param(PlanNotFoundError("p"), 404, "not-found", id="plan"),
        pytest.param(UnknownPlanError("p"), 422, "unknown-plan", id="unknown-plan"),
        pytest.param(InvalidCalendarError("bad"), 422, "validation-failed", id="calendar"),
        pytest.param(ClientPlanNotFoundError("c"), 404, "not-found", id="client-plan"),
        pytest.param(TicketNotFoundError("t"), 404, "not-found", id="ticket"),
    ],
)
def test_each_refusal_has_its_status_and_problem_type(
    error: DomainError, status: int, slug: str
) -> None:
    assert error.status == status
    assert PROBLEM_TYPES.for_error(error).uri == f"https://aftercare.dev/problems/{slug}"


def test_a_calendar_refusal_names_the_field_like_a_validation_failure() -> None:
    error = InvalidCalendarError("unknown time zone 'Mars/Olympus'")

    assert error.detail == "The calendar is not valid: unknown time zone 'Mars/Olympus'"
    assert error.extensions == {
        "errors": [
            {
                "location": "body.calendar",
                "message": "unknown time zone 'Mars/Olympus'",
                "kind": "calendar",
            }
        ]
    }
