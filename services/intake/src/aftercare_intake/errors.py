"""Why intake refuses a request, and the problem type each refusal answers with.

Use cases (and the pure rules in ``domain``) raise these; the app registers
:data:`PROBLEM_TYPES` once, so routes never build an HTTP error themselves. The slugs are
part of the API: clients branch on ``transition-not-allowed`` and
``idempotency-key-reused``.
"""

from __future__ import annotations

from typing import ClassVar

from aftercare_shared.errors import (
    ConflictError,
    DomainError,
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
    """Only the bootstrap admin token or an ``admin``-role token manages staff tokens."""


class StaffTokenNotFoundError(NotFoundError):
    """No staff token with that id."""


class ExpiryInPastError(InvalidError):
    """A new API key's ``expires_at`` is not in the future."""


class ProjectNotFoundError(NotFoundError):
    """No project with that id (for staff), or not one of this client's."""


class TicketMergeError(ConflictError):
    """The tickets cannot be merged as asked (another client's, already merged, the target)."""


class FingerprintNotOnTicketError(ConflictError):
    """Unmerge names a fingerprint that does not route to this ticket, or its own one."""


class MergedTicketReopenError(ConflictError):
    """A ticket closed as merged lives on in its target; it cannot be reopened."""


# --- the support desk ----------------------------------------------------------------------


class StaffOnlyError(ForbiddenError):
    """Internal notes, assignment and status moves on a reply are staff's."""


class OtherClientTicketError(ForbiddenError):
    """A client key opens tickets for its own client only."""


class ClientRequiredError(InvalidError):
    """Staff opening a ticket must say for which client."""


class ReplyStatusNotAllowedError(InvalidError):
    """Only a public reply may move a ticket, and only to ``waiting_on_client``."""


class TicketNotResolvedError(ConflictError):
    """Feedback rates a resolution: the ticket is not resolved (or was reopened since)."""


class FeedbackAlreadyGivenError(ConflictError):
    """This resolution of the ticket was already rated (a reopened and re-resolved one may be)."""


# --- Sentry ingest -------------------------------------------------------------------------


class MalformedEnvelopeError(DomainError):
    """The envelope (or event body) cannot be read; the detail names the fault."""

    status = 400
    default_slug = "malformed-envelope"
    default_title = "Malformed envelope"


class EnvelopeTooLargeError(DomainError):
    """A hard limit was crossed while reading: body, decompressed envelope, item or items."""

    status = 413
    default_slug = "payload-too-large"
    default_title = "Payload too large"


class UnsupportedEncodingError(DomainError):
    """A ``Content-Encoding`` intake does not decode."""

    status = 415
    default_slug = "unsupported-encoding"
    default_title = "Unsupported Content-Encoding"


class IngestCredentialsMissingError(DomainError):
    """No DSN public key, a malformed one, or one that is unknown or revoked."""

    status = 401
    default_slug = "unauthenticated"
    default_title = "Unauthorized"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Sentry realm="aftercare"'}


class IngestCredentialsConflictError(IngestCredentialsMissingError):
    """The header, query and envelope name different keys."""


class ProjectMismatchError(ForbiddenError):
    """The key is valid but not for this project (another client's, or no such project)."""


class OriginNotAllowedError(ForbiddenError):
    """A browser SDK sent from an origin the project does not allow."""


# --- routine checks (monitors) ----------------------------------------------------------


class MonitorNotFoundError(NotFoundError):
    """No monitor with that id (or ping key, or slug), or one of another client."""


class InvalidScheduleError(InvalidError):
    """A crontab expression, interval or time zone that cannot be evaluated; names it."""

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, field=field)


class InvalidMonitorError(InvalidError):
    """A monitor whose fields do not fit together (an uptime monitor without a URL…)."""


class MonitorSlugTakenError(ConflictError):
    """The client already has a monitor with that slug."""


class MonitorUrlRefusedError(InvalidError):
    """An uptime URL the SSRF rules refuse (internal address, credentials, scheme)."""


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
        StaffTokenNotFoundError: ProblemType("not-found", "Staff token not found"),
        ExpiryInPastError: ProblemType("validation-failed", "Validation failed"),
        ProjectNotFoundError: ProblemType("not-found", "Project not found"),
        TicketMergeError: ProblemType("merge-not-allowed", "Tickets cannot be merged"),
        FingerprintNotOnTicketError: ProblemType(
            "unmerge-not-allowed", "Fingerprint cannot be split off"
        ),
        MergedTicketReopenError: ProblemType(
            "transition-not-allowed", "A merged ticket cannot be reopened"
        ),
        StaffOnlyError: ProblemType("forbidden", "Staff only"),
        OtherClientTicketError: ProblemType("forbidden", "Not this key's client"),
        ClientRequiredError: ProblemType("validation-failed", "Client required"),
        ReplyStatusNotAllowedError: ProblemType(
            "validation-failed", "This reply cannot move the ticket"
        ),
        TicketNotResolvedError: ProblemType("ticket-not-resolved", "Ticket not resolved"),
        FeedbackAlreadyGivenError: ProblemType(
            "feedback-already-given", "Feedback already given for this resolution"
        ),
        MalformedEnvelopeError: ProblemType("malformed-envelope", "Malformed envelope"),
        EnvelopeTooLargeError: ProblemType("payload-too-large", "Payload too large"),
        UnsupportedEncodingError: ProblemType(
            "unsupported-encoding", "Unsupported Content-Encoding"
        ),
        IngestCredentialsMissingError: ProblemType("unauthenticated", "Unauthorized"),
        ProjectMismatchError: ProblemType("forbidden", "Key not valid for this project"),
        OriginNotAllowedError: ProblemType("forbidden", "Origin not allowed for this project"),
        MonitorNotFoundError: ProblemType("not-found", "Monitor not found"),
        InvalidScheduleError: ProblemType("invalid-schedule", "Schedule cannot be evaluated"),
        InvalidMonitorError: ProblemType("validation-failed", "Monitor is not valid"),
        MonitorSlugTakenError: ProblemType("monitor-slug-taken", "Monitor slug already used"),
        MonitorUrlRefusedError: ProblemType("url-refused", "URL not allowed"),
    }
)
