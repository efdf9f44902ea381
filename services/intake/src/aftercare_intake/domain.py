"""Intake's rules, free of frameworks: priorities, fingerprints, status transitions."""

from __future__ import annotations

import hashlib
import re

SEVERITY_TO_PRIORITY: dict[str, str] = {
    "critical": "P1",
    "high": "P2",
    "medium": "P3",
    "low": "P4",
}

STATUSES = ("new", "triaged", "in_progress", "waiting_on_client", "resolved", "closed")
OPEN_STATUSES = frozenset({"new", "triaged", "in_progress", "waiting_on_client"})

# Where staff may move a ticket by hand. Reopening (resolved/closed → triaged) is its own
# event so SLA can restart the resolution clock.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"triaged", "in_progress", "waiting_on_client", "resolved", "closed"}),
    "triaged": frozenset({"in_progress", "waiting_on_client", "resolved", "closed"}),
    "in_progress": frozenset({"triaged", "waiting_on_client", "resolved", "closed"}),
    "waiting_on_client": frozenset({"triaged", "in_progress", "resolved", "closed"}),
    "resolved": frozenset({"triaged", "closed"}),
    "closed": frozenset({"triaged"}),
}

# Occurrence counts at which a ``ticket.occurred`` event goes out. A storm of identical
# reports must not become a storm of notifications; the ticket always shows the exact count.
OCCURRENCE_MILESTONES = frozenset({2, 10, 100, 1_000, 10_000, 100_000, 1_000_000})

_DIGITS = re.compile(r"\d+")
_HEX_IDS = re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b")


class TransitionNotAllowedError(ValueError):
    pass


def priority_for(severity: str) -> str:
    return SEVERITY_TO_PRIORITY[severity]


def default_fingerprint(*, title: str, kind: str | None, stacktrace: str | None) -> str:
    """Group reports of the same fault when the client sent no fingerprint.

    Numbers and hex ids vary between occurrences of one bug ("order 1234 failed"), so they
    are masked before hashing, as Sentry's default grouping does for messages.
    """
    normalised_title = _DIGITS.sub("<n>", _HEX_IDS.sub("<id>", title.strip().lower()))
    basis = "\n".join([kind or "", normalised_title, (stacktrace or "").strip()])
    return "auto:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def check_transition(current: str, wanted: str) -> None:
    if current == wanted:
        return
    if wanted not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise TransitionNotAllowedError(f"a {current} ticket cannot move to {wanted}")


def is_reopen(current: str, wanted: str) -> bool:
    return current in {"resolved", "closed"} and wanted in OPEN_STATUSES


def announces_occurrence(occurrences: int) -> bool:
    return occurrences in OCCURRENCE_MILESTONES
