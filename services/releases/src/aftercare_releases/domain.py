"""Release rules, free of frameworks: what a valid release is and how its status moves.

A release starts as a ``draft`` (editable: notes, kind, the tickets it fixes). It may be
``scheduled`` to publish itself at ``publish_at``, and is ``published`` once; publishing
is the moment the world is told, so it happens exactly once and a published release never
changes again, except to be ``rolled_back`` (the fix is withdrawn). A draft or scheduled
release can be ``cancelled`` instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from aftercare_releases.errors import ReleaseNotEditableError, ReleaseTransitionError
from aftercare_shared.events.catalog import ChangeType

# Kinds travel in events (the catalog's ReleaseKind); statuses never leave this service.
ReleaseStatus = Literal["draft", "scheduled", "published", "cancelled", "rolled_back"]

RELEASE_STATUSES: Final[tuple[ReleaseStatus, ...]] = get_args(ReleaseStatus)
EDITABLE_STATUSES: Final[frozenset[ReleaseStatus]] = frozenset({"draft", "scheduled"})
# Statuses that carry published_at: the release reached the world at some point.
PUBLISHED_STATUSES: Final[tuple[ReleaseStatus, ...]] = ("published", "rolled_back")

# What a ticket's kind (as reported to intake) means in a changelog when nobody said.
_CHANGE_TYPE_BY_TICKET_KIND: Final[dict[str, ChangeType]] = {
    "bug": "fixed",
    "security": "security",
    "feature_request": "added",
    "feature request": "added",
    "feature-request": "added",
    "feature": "added",
}
ROLLBACK_REASON_MAX_LENGTH: Final = 2000

PRODUCT_MAX_LENGTH: Final = 100
VERSION_MAX_LENGTH: Final = 64
NOTES_MAX_LENGTH: Final = 20_000
MAX_TICKETS_PER_RELEASE: Final = 1000

# The canonical textual UUID (any version): what intake issues as ticket ids.
_UUID_PATTERN: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class ReleaseRuleError(ValueError):
    """Input that breaks a release rule; the message is safe to show to the caller."""


def _has_control_characters(text: str, *, allow_line_breaks: bool = False) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_line_breaks else set()
    return any(
        unicodedata.category(character) in {"Cc", "Cf"} and character not in allowed
        for character in text
    )


def normalize_product(raw: str) -> str:
    """A product name, trimmed: 1-100 printable characters on one line."""
    product = raw.strip()
    if not product:
        raise ReleaseRuleError("product must not be empty")
    if len(product) > PRODUCT_MAX_LENGTH:
        raise ReleaseRuleError(f"product must be at most {PRODUCT_MAX_LENGTH} characters")
    if _has_control_characters(product):
        raise ReleaseRuleError("product must not contain control characters or line breaks")
    return product


def normalize_notes(raw: str | None) -> str | None:
    """Release notes (Markdown); blank notes are no notes."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > NOTES_MAX_LENGTH:
        raise ReleaseRuleError(f"notes must be at most {NOTES_MAX_LENGTH} characters")
    if _has_control_characters(raw, allow_line_breaks=True):
        raise ReleaseRuleError("notes must not contain control characters")
    return raw


def is_ticket_id(candidate: str) -> bool:
    """Whether ``candidate`` is shaped like a ticket id (a canonical UUID, any case)."""
    return canonical_id(candidate) is not None


def canonical_id(candidate: str) -> str | None:
    """A release or ticket id in its stored form (lower-case UUID), or None if not one.

    Anything else cannot name a stored row, so callers answer "not found" without a query.
    """
    normalized = candidate.strip().lower()
    return normalized if _UUID_PATTERN.fullmatch(normalized) else None


def normalize_ticket_ids(raw: Iterable[str]) -> list[str]:
    """Ticket ids lower-cased and de-duplicated, first mention first; at most 1000."""
    seen: dict[str, None] = {}
    for position, candidate in enumerate(raw):
        ticket_id = candidate.strip().lower()
        if not _UUID_PATTERN.fullmatch(ticket_id):
            raise ReleaseRuleError(f"ticket_ids[{position}] is not a ticket id (a UUID)")
        seen.setdefault(ticket_id, None)
    if len(seen) > MAX_TICKETS_PER_RELEASE:
        raise ReleaseRuleError(
            f"a release may list at most {MAX_TICKETS_PER_RELEASE} distinct tickets"
        )
    return list(seen)


def ensure_editable(release_id: str, status: ReleaseStatus) -> None:
    """Only drafts and scheduled releases change: the rest are facts others acted on."""
    if status not in EDITABLE_STATUSES:
        raise ReleaseNotEditableError(
            f"Release {release_id} is {status} and can no longer be changed."
        )


def ensure_transition(release_id: str, status: ReleaseStatus, action: str) -> None:
    """Refuse ``action`` (schedule, cancel, rollback) from a status it does not start from."""
    allowed: dict[str, frozenset[ReleaseStatus]] = {
        "schedule": EDITABLE_STATUSES,
        "cancel": EDITABLE_STATUSES,
        "rollback": frozenset({"published"}),
        "publish": frozenset({"draft", "scheduled", "published"}),
    }
    if status not in allowed[action]:
        raise ReleaseTransitionError(f"A {status} release cannot be {_PAST[action]}.")


_PAST: Final = {
    "schedule": "scheduled",
    "cancel": "cancelled",
    "rollback": "rolled back",
    "publish": "published",
}


def default_change_type(ticket_kind: str | None) -> ChangeType:
    """The changelog section of a ticket nobody classified: bugs are fixes, and so on."""
    if ticket_kind is None:
        return "fixed"
    return _CHANGE_TYPE_BY_TICKET_KIND.get(ticket_kind.strip().lower(), "fixed")


def normalize_rollback_reason(raw: str) -> str:
    reason = raw.strip()
    if not reason:
        raise ReleaseRuleError("reason must not be empty")
    if len(reason) > ROLLBACK_REASON_MAX_LENGTH:
        raise ReleaseRuleError(f"reason must be at most {ROLLBACK_REASON_MAX_LENGTH} characters")
    if _has_control_characters(reason, allow_line_breaks=True):
        raise ReleaseRuleError("reason must not contain control characters")
    return reason


@dataclass(frozen=True, slots=True)
class PublishDecision:
    """What publishing a release in its current state means."""

    published_at: datetime
    newly_published: bool
    """True only for the draft → published transition: the one time an event is due."""


def decide_publish(
    status: ReleaseStatus, published_at: datetime | None, *, now: datetime
) -> PublishDecision:
    """Draft → published at ``now``; publishing again keeps the first ``published_at``."""
    if status in PUBLISHED_STATUSES:
        if published_at is None:
            raise ValueError("a published release must carry published_at")
        return PublishDecision(published_at=published_at, newly_published=False)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return PublishDecision(published_at=now, newly_published=True)


def unknown_ticket_ids(ticket_ids: Sequence[str], known_ticket_ids: Iterable[str]) -> list[str]:
    """The listed ids this service has not (yet) heard of, in listing order.

    Ticket events may lag behind a release manager, so unknown ids are accepted and
    flagged rather than refused.
    """
    known = set(known_ticket_ids)
    return [ticket_id for ticket_id in ticket_ids if ticket_id not in known]
