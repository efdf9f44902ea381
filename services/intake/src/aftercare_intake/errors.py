"""Why intake refuses a request, and the problem type each refusal answers with.

Use cases (and the pure rules in ``domain``) raise these; the app registers
:data:`PROBLEM_TYPES` once, so routes never build an HTTP error themselves. The slugs are
part of the API: clients branch on ``transition-not-allowed`` and
``idempotency-key-reused``.
"""

from __future__ import annotations

from aftercare_shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ProblemType,
    ProblemTypes,
)


class ClientNotFoundError(NotFoundError):
    """No client with that id."""


class ApiKeyNotFoundError(NotFoundError):
    """No API key with that id."""


class TicketNotFoundError(NotFoundError):
    """No such ticket, or one of another client (existence must not leak)."""


class TransitionNotAllowedError(ConflictError):
    """Staff asked for a status the ticket cannot move to from its current one."""


class IdempotencyKeyReusedError(InvalidError):
    """An Idempotency-Key came back with a different request body."""


class ClientKeyRequiredError(ForbiddenError):
    """Reports come from client systems: a staff credential cannot send one."""


class AdminOnlyError(ForbiddenError):
    """Only the admin credential mints staff tokens; a staff token cannot mint more."""


PROBLEM_TYPES = ProblemTypes(
    {
        ClientNotFoundError: ProblemType("not-found", "Client not found"),
        ApiKeyNotFoundError: ProblemType("not-found", "API key not found"),
        TicketNotFoundError: ProblemType("not-found", "Ticket not found"),
        TransitionNotAllowedError: ProblemType(
            "transition-not-allowed", "Status transition not allowed"
        ),
        IdempotencyKeyReusedError: ProblemType(
            "idempotency-key-reused", "Idempotency-Key reused with a different request"
        ),
        ClientKeyRequiredError: ProblemType("forbidden", "Client API key required"),
        AdminOnlyError: ProblemType("forbidden", "Admin credential required"),
    }
)
