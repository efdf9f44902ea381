"""Intake's rules, free of frameworks: priorities, status transitions, occurrence policy.

Grouping (which ticket an occurrence belongs to) is :mod:`aftercare_intake.grouping`;
version order and regressions are :mod:`aftercare_intake.versions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from aftercare_intake.errors import TransitionNotAllowedError
from aftercare_shared.events.catalog import (
    TICKET_KINDS,
    TICKET_STATUSES,
    Priority,
    Severity,
    TicketKind,
    TicketStatus,
)

SEVERITY_TO_PRIORITY: dict[Severity, Priority] = {
    "critical": "P1",
    "high": "P2",
    "medium": "P3",
    "low": "P4",
}

NEW_STATUS: TicketStatus = "new"
RESOLVED_STATUS: TicketStatus = "resolved"
CLOSED_STATUS: TicketStatus = "closed"
REOPENED_STATUS: TicketStatus = "triaged"
"""Where a resolved or closed ticket goes when it comes back: staff look at it again."""

FINISHED_STATUSES: frozenset[TicketStatus] = frozenset({RESOLVED_STATUS, CLOSED_STATUS})
# Statuses in which a new report with the same fingerprint joins the ticket instead of
# opening a new one; a resolved or closed ticket is history, a recurrence is news. In the
# catalog's order, so the SQL predicate built from it reads the same every time.
OPEN_STATUSES: tuple[TicketStatus, ...] = tuple(
    status for status in TICKET_STATUSES if status not in FINISHED_STATUSES
)

FixStatus = Literal["awaiting_deploy"]


def fix_status(status: TicketStatus, fix_release_id: str | None) -> FixStatus | None:
    """``awaiting_deploy`` ("fix released, awaiting deploy") while an open ticket waits for
    its fixing release to reach the plan's environment; a ticket finished by other means
    (staff resolved it by hand) awaits nothing."""
    if fix_release_id is not None and status not in FINISHED_STATUSES:
        return "awaiting_deploy"
    return None


# Where staff may move a ticket by hand. Reopening (resolved/closed → triaged) is its own
# event so SLA can restart the resolution clock.
ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    "new": frozenset({"triaged", "in_progress", "waiting_on_client", "resolved", "closed"}),
    "triaged": frozenset({"in_progress", "waiting_on_client", "resolved", "closed"}),
    "in_progress": frozenset({"triaged", "waiting_on_client", "resolved", "closed"}),
    "waiting_on_client": frozenset({"triaged", "in_progress", "resolved", "closed"}),
    "resolved": frozenset({REOPENED_STATUS, "closed"}),
    "closed": frozenset({REOPENED_STATUS}),
}

SlaViewState = Literal["running", "at_risk", "breached", "met", "paused", "cancelled"]
"""What the ticket view shows for one SLA clock, from the last ``sla.*`` event about it."""
COUNTING_SLA_STATES: frozenset[SlaViewState] = frozenset({"running", "at_risk", "breached"})
"""Clocks that still want something done: the "SLA due" sort orders by their due times."""


def earliest_counting_due(sla_status: dict[str, Any]) -> datetime | None:
    """The soonest due time among the ticket's counting clocks (``sla_status`` as stored:
    ``{metric: {"state": …, "due_at": iso}}``); None when none counts."""
    due = [
        datetime.fromisoformat(clock["due_at"])
        for clock in sla_status.values()
        if isinstance(clock, dict) and clock.get("state") in COUNTING_SLA_STATES
    ]
    return min(due, default=None)


ReopenReason = Literal["manual", "regression", "client_reply"]
"""Why a finished ticket came back: staff reopened it, it recurred in a fixed version, or
the client answered it within the reopen window."""
REOPEN_REASONS: tuple[ReopenReason, ...] = get_args(ReopenReason)

CloseReason = Literal["merged"]
"""Why a ticket closed other than by staff closing it: folded into another ticket."""
CLOSE_REASONS: tuple[CloseReason, ...] = get_args(CloseReason)

HistoryAction = Literal[
    "status_changed",
    "priority_changed",
    "resolved",
    "reopened",
    "merged",
    "merged_into",
    "unmerged",
    "split_from",
    "assigned",
]
"""What a ticket's history records (``GET /v1/tickets/{id}/history``)."""
HISTORY_ACTIONS: tuple[HistoryAction, ...] = get_args(HistoryAction)

TallyDimension = Literal["release", "environment"]
"""What occurrences are counted by, per ticket, besides the total."""
TALLY_DIMENSIONS: tuple[TallyDimension, ...] = get_args(TallyDimension)

DEFAULT_KIND: TicketKind = "bug"
"""The kind of a ticket filed from an error report or a Sentry event that names none."""


def ticket_kind(kind: str | None) -> TicketKind:
    """The ticket kind for a filed occurrence: its own when it is one of the closed set
    (a monitor's ``incident``, an advisory's ``security``), else ``bug`` — a Sentry
    exception type is a grouping hint, not a kind. The 0004 migration mapped stored
    tickets by the same rule."""
    for known in TICKET_KINDS:
        if kind == known:
            return known
    return DEFAULT_KIND


SYSTEM_ACTOR = "intake"
"""The actor of changes intake makes on its own (a regression reopening a ticket)."""


def release_actor(release_id: str) -> str:
    return f"release:{release_id}"


@dataclass(frozen=True, slots=True)
class OccurrencePolicy:
    """How much of each occurrence is kept and how often occurrences are announced."""

    samples: int
    """Latest occurrences kept in full per fingerprint (the first one is kept as well; see
    :mod:`aftercare_intake.occurrence_store` for the ring they go round)."""
    announce_interval: timedelta
    """At most one ``ticket.occurred`` per ticket per this interval."""

    def announce_before(self, now: datetime) -> datetime:
        """A ticket last announced at or before this may be announced again now."""
        return now - self.announce_interval


def priority_for(severity: Severity) -> Priority:
    return SEVERITY_TO_PRIORITY[severity]


def check_transition(current: TicketStatus, wanted: TicketStatus) -> None:
    if current == wanted:
        return
    if wanted not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise TransitionNotAllowedError(f"a {current} ticket cannot move to {wanted}")


def is_reopen(current: TicketStatus, wanted: TicketStatus) -> bool:
    return current in FINISHED_STATUSES and wanted not in FINISHED_STATUSES
