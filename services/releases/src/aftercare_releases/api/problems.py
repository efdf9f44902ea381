"""Use-case errors → RFC 9457 problems, worded for the caller."""

from __future__ import annotations

from typing import Any

from aftercare_releases.domain import ReleaseNotEditableError
from aftercare_releases.pagination import InvalidCursorError
from aftercare_releases.use_cases import (
    DuplicateReleaseError,
    ReleaseNotFoundError,
    TicketNotFoundError,
)
from aftercare_shared.problems import PROBLEM_BASE_URI, Problem

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"application/problem+json": {}}}
    for status, description in (
        (401, "No valid credential."),
        (403, "The call needs a staff token."),
        (404, "No such release (or not one this client key may see)."),
        (409, "The request conflicts with the release's state."),
        (422, "The request is not valid; nothing was changed."),
    )
}


def release_not_found(error: ReleaseNotFoundError) -> Problem:
    # The id is in the problem's instance (the path); not echoed, it may be anything.
    return Problem(404, "No such release.")


def ticket_not_found(error: TicketNotFoundError) -> Problem:
    return Problem(404, "No such ticket.")


def duplicate_release(error: DuplicateReleaseError) -> Problem:
    extensions: dict[str, Any] = {}
    if error.existing_release_id is not None:
        extensions["existing_release_id"] = error.existing_release_id
    return Problem(
        409,
        f"A release {error.version} of {error.product} already exists.",
        problem_type=PROBLEM_BASE_URI + "release-exists",
        title="Release already exists",
        **extensions,
    )


def release_not_editable(error: ReleaseNotEditableError) -> Problem:
    return Problem(
        409,
        str(error),
        problem_type=PROBLEM_BASE_URI + "release-published",
        title="Release is published",
    )


def invalid_cursor(error: InvalidCursorError) -> Problem:
    return Problem(
        422,
        str(error),
        problem_type=PROBLEM_BASE_URI + "validation-failed",
        title="Validation failed",
        errors=[{"location": "query.cursor", "message": str(error), "kind": "invalid_cursor"}],
    )
