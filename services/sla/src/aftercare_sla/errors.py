"""What sla's use cases refuse, and the problem type each refusal answers with."""

from __future__ import annotations

from aftercare_shared.errors import InvalidError, NotFoundError, ProblemType, ProblemTypes


class PlanNotFoundError(NotFoundError):
    """The plan in the URL does not exist."""

    def __init__(self, plan_id: str) -> None:
        super().__init__(f"Plan {plan_id!r} does not exist.")


class UnknownPlanError(InvalidError):
    """The plan a request body names does not exist.

    A 422, not a 404: the URL is fine, the plan the body names is not.
    """

    def __init__(self, plan_id: str) -> None:
        super().__init__(f"Plan {plan_id!r} does not exist.")


class InvalidCalendarError(InvalidError):
    """A plan's business calendar cannot be built; nothing was stored.

    Answered like a request validation failure (``errors`` with a location), so clients
    handle one format for every invalid body.
    """

    def __init__(self, reason: str, *, location: str = "body.calendar") -> None:
        super().__init__(
            f"The calendar is not valid: {reason}",
            errors=[{"location": location, "message": reason, "kind": "calendar"}],
        )


class ClientPlanNotFoundError(NotFoundError):
    """The client has no plan, or the caller may not see the client's (it must not leak)."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"Client {client_id!r} has no plan.")


class TicketNotFoundError(NotFoundError):
    """sla has not seen the ticket, or it is another client's (it must not leak)."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"Ticket {ticket_id!r} is not known to sla.")


class InvalidPeriodError(InvalidError):
    """A report period that is neither ``YYYY-MM`` nor ``YYYY-Qn``."""

    def __init__(self, period: str) -> None:
        reason = "A period is a month (2026-11) or a quarter (2026-Q4)."
        super().__init__(
            f"{period!r} is not a report period. {reason}",
            errors=[{"location": "path.period", "message": reason, "kind": "period"}],
        )


class InvalidReportWindowError(InvalidError):
    """``from``/``to`` of a report: both given, ``from`` before ``to``, at most a year apart."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The report window is not valid: {reason}",
            errors=[{"location": "query.from", "message": reason, "kind": "window"}],
        )


class ReportClientNotFoundError(NotFoundError):
    """No events of the client reached the reports, or the caller may not see it."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"No reports for client {client_id!r}.")


PROBLEM_TYPES = ProblemTypes(
    {
        PlanNotFoundError: ProblemType("not-found", "Plan not found"),
        UnknownPlanError: ProblemType("unknown-plan", "Unknown plan"),
        InvalidCalendarError: ProblemType("validation-failed", "Validation failed"),
        ClientPlanNotFoundError: ProblemType("not-found", "Client plan not found"),
        TicketNotFoundError: ProblemType("not-found", "Ticket not found"),
        InvalidPeriodError: ProblemType("validation-failed", "Validation failed"),
        InvalidReportWindowError: ProblemType("validation-failed", "Validation failed"),
        ReportClientNotFoundError: ProblemType("not-found", "Client not found"),
    }
)
