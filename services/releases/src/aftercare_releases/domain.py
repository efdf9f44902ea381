"""Release rules, free of frameworks: what a valid release is and how its status moves.

A release starts as a ``draft`` (editable: notes, kind, the tickets it fixes) and is
``published`` once; publishing is the moment the world is told, so it happens exactly
once and a published release never changes again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from aftercare_releases.errors import ReleaseNotEditableError

# Kinds travel in events (the catalog's ReleaseKind); statuses never leave this service.
ReleaseStatus = Literal["draft", "published"]

RELEASE_STATUSES: Final[tuple[ReleaseStatus, ...]] = get_args(ReleaseStatus)

PRODUCT_MAX_LENGTH: Final = 100
VERSION_MAX_LENGTH: Final = 64
NOTES_MAX_LENGTH: Final = 20_000
MAX_TICKETS_PER_RELEASE: Final = 1000

# Semantic (1.4.2-rc.1+build.7), calendar (2026.11.27) and build-style (build-512) versions
# all fit; whitespace, slashes and other characters that break URLs and tags do not.
_VERSION_PATTERN: Final = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")
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


def normalize_version(raw: str) -> str:
    """A version string, trimmed; letters, digits and ``. + - _``, starting alphanumeric."""
    version = raw.strip()
    if not version:
        raise ReleaseRuleError("version must not be empty")
    if len(version) > VERSION_MAX_LENGTH:
        raise ReleaseRuleError(f"version must be at most {VERSION_MAX_LENGTH} characters")
    if not _VERSION_PATTERN.fullmatch(version):
        raise ReleaseRuleError(
            "version must start with a letter or digit and contain only letters, digits "
            "and . + - _ (for example 1.4.2, 2026.11.27 or 2.0.0-rc.1)"
        )
    return version


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
    """Only drafts change: a published release is a fact others already acted on."""
    if status != "draft":
        raise ReleaseNotEditableError(
            f"Release {release_id} is published and can no longer be changed."
        )


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
    if status == "published":
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
