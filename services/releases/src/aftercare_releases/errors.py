"""Why the releases service refuses a request, and the problem type each refusal answers with.

Use cases and domain rules raise these; the platform turns them into RFC 9457 problems
through :data:`PROBLEM_TYPES`. The ``release-exists`` and ``release-published`` types are
the ones clients branch on (retry with another version, or stop editing).
"""

from __future__ import annotations

from aftercare_shared.errors import ConflictError, NotFoundError, ProblemType, ProblemTypes


class ReleaseNotFoundError(NotFoundError):
    """No such release, or none the caller may see: both answer alike, nothing leaks."""


class TicketNotFoundError(NotFoundError):
    """A client asked about a ticket that is not (known to be) its own."""


class DuplicateReleaseError(ConflictError):
    """``(product, version)`` is taken.

    Carries the ``existing_release_id`` extension when the existing release is known
    (not when a concurrent create won the race between our check and our insert).
    """


class ReleaseNotEditableError(ConflictError):
    """A published release was asked to change: others have already acted on it."""


PROBLEM_TYPES = ProblemTypes(
    {
        ReleaseNotFoundError: ProblemType("not-found", "Release not found"),
        TicketNotFoundError: ProblemType("not-found", "Ticket not found"),
        DuplicateReleaseError: ProblemType("release-exists", "Release already exists"),
        ReleaseNotEditableError: ProblemType("release-published", "Release is published"),
    }
)
