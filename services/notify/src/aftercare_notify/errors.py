"""Why notify refuses a request, and the problem type (RFC 9457) each refusal answers with.

Use cases raise these; the app answers with the problem type named here, so routes need
no error handling. The slugs are part of the API: clients branch on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aftercare_shared.errors import (
    ConflictError,
    InvalidError,
    NotFoundError,
    ProblemType,
    ProblemTypes,
)


class EndpointNotFoundError(NotFoundError):
    """No such endpoint, or one of another client (existence must not leak)."""


class DeliveryNotFoundError(NotFoundError):
    """No such delivery, or one of an endpoint the caller may not see."""


class InvalidEventTypesError(InvalidError):
    """A subscription names event types or entities that do not exist."""

    def __init__(self, detail: str, *, known_event_types: Sequence[str]) -> None:
        # The known types travel with the refusal so a caller can fix every pattern at once.
        super().__init__(detail, known_event_types=list(known_event_types))


class UrlNotAllowedError(InvalidError):
    """The webhook URL, or an address its host resolves to, may not be called (SSRF)."""


class UrlUnresolvableError(InvalidError):
    """The webhook URL's host does not resolve (it may later: not an SSRF refusal)."""


class ChannelNotSupportedError(InvalidError):
    """The endpoint asks for a channel notify cannot deliver through."""

    def __init__(self, detail: str, *, supported_channels: Sequence[str]) -> None:
        super().__init__(detail, supported_channels=list(supported_channels))


class EndpointTargetError(InvalidError):
    """The endpoint's target does not fit its channel (a URL for email, no address…)."""


class InvalidGroupingError(InvalidError):
    """Grouping settings that do not fit together; ``field`` names the one to fix."""

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, field=field)


class EndpointDisabledError(ConflictError):
    """Retry and replay need an enabled endpoint: a disabled one would send nothing."""


class DeliveryInFlightError(ConflictError):
    """The delivery is being attempted right now; a retry would race the attempt."""


PROBLEM_TYPES = ProblemTypes(
    {
        EndpointNotFoundError: ProblemType("not-found", "Endpoint not found"),
        DeliveryNotFoundError: ProblemType("not-found", "Delivery not found"),
        InvalidEventTypesError: ProblemType("invalid-event-types", "Invalid event types"),
        UrlNotAllowedError: ProblemType("url-not-allowed", "URL not allowed"),
        UrlUnresolvableError: ProblemType("url-unresolvable", "URL host does not resolve"),
        ChannelNotSupportedError: ProblemType("channel-not-supported", "Channel not supported"),
        EndpointTargetError: ProblemType("invalid-endpoint-target", "Invalid endpoint target"),
        InvalidGroupingError: ProblemType("invalid-grouping", "Invalid grouping"),
        EndpointDisabledError: ProblemType("conflict", "Endpoint disabled"),
        DeliveryInFlightError: ProblemType("conflict", "Delivery in flight"),
    }
)
