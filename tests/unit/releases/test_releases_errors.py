"""The releases refusals and the problem types they answer with (clients branch on these)."""

from __future__ import annotations

import pytest

from aftercare_releases.errors import (
    PROBLEM_TYPES,
    DuplicateReleaseError,
    ReleaseNotEditableError,
    ReleaseNotFoundError,
    TicketNotFoundError,
)
from aftercare_shared.errors import DomainError


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (ReleaseNotFoundError("No such release."), 404, "not-found"),
        (TicketNotFoundError("No such ticket."), 404, "not-found"),
        (DuplicateReleaseError("exists", existing_release_id="r-1"), 409, "release-exists"),
        (ReleaseNotEditableError("published"), 409, "release-published"),
    ],
)
def test_each_refusal_keeps_its_status_and_problem_type(
    error: DomainError, status: int, slug: str
) -> None:
    problem = PROBLEM_TYPES.for_error(error)
    assert (error.status, problem.uri) == (status, f"https://aftercare.dev/problems/{slug}")


def test_a_duplicate_names_the_existing_release() -> None:
    assert DuplicateReleaseError("exists", existing_release_id="r-1").extensions == {
        "existing_release_id": "r-1"
    }
