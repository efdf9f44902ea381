"""Intake's rules, free of frameworks: priorities, fingerprints, status transitions."""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from aftercare_intake.errors import TransitionNotAllowedError
from aftercare_shared.events.catalog import TICKET_STATUSES, Priority, Severity, TicketStatus

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

SlaViewState = Literal["running", "at_risk", "breached", "met", "paused"]
"""What the ticket view shows for one SLA clock, from the last ``sla.*`` event about it."""

# Occurrence counts at which a ``ticket.occurred`` event goes out. A storm of identical
# reports must not become a storm of notifications; the ticket always shows the exact count.
OCCURRENCE_MILESTONES = frozenset({2, 10, 100, 1_000, 10_000, 100_000, 1_000_000})

_DIGITS = re.compile(r"\d+")
_HEX_IDS = re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b")


def priority_for(severity: Severity) -> Priority:
    return SEVERITY_TO_PRIORITY[severity]


def default_fingerprint(*, title: str, kind: str | None, stacktrace: str | None) -> str:
    """Group reports of the same fault when the client sent no fingerprint.

    Numbers and hex ids vary between occurrences of one bug ("order 1234 failed"), so they
    are masked before hashing, as Sentry's default grouping does for messages.
    """
    normalised_title = _DIGITS.sub("<n>", _HEX_IDS.sub("<id>", title.strip().lower()))
    basis = "\n".join([kind or "", normalised_title, (stacktrace or "").strip()])
    return "auto:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def check_transition(current: TicketStatus, wanted: TicketStatus) -> None:
    if current == wanted:
        return
    if wanted not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise TransitionNotAllowedError(f"a {current} ticket cannot move to {wanted}")


def is_reopen(current: TicketStatus, wanted: TicketStatus) -> bool:
    return current in FINISHED_STATUSES and wanted not in FINISHED_STATUSES


def announces_occurrence(occurrences: int) -> bool:
    return occurrences in OCCURRENCE_MILESTONES
