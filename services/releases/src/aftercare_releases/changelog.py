"""Changelogs in Keep a Changelog form (https://keepachangelog.com/en/1.1.0/).

One section per release (``## [1.4.2] - 2026-11-27``, or ``[Unreleased]`` before it is
published), with its entries grouped under ``### Added``, ``### Fixed``, ``### Security``…
in the order Keep a Changelog lists them (``Performance`` last, our addition). The same
structure renders as Markdown and travels as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from aftercare_releases.domain import ReleaseStatus
from aftercare_shared.events.catalog import (
    CHANGE_TYPES,
    PRIORITIES,
    ChangeType,
    Priority,
    ReleaseKind,
    TicketStatus,
)

SECTION_HEADINGS: Final[dict[ChangeType, str]] = {
    change_type: change_type.capitalize() for change_type in CHANGE_TYPES
}
_KIND_LINES: Final[dict[ReleaseKind, str]] = {
    "feature": "Feature release",
    "security": "Security release",
    "bugfix": "Bug-fix release",
    "performance": "Performance release",
    "maintenance": "Maintenance release",
}
# Most urgent first: the catalog lists priorities P1 … P4.
_PRIORITY_ORDER: Final[dict[Priority, int]] = {
    priority: rank for rank, priority in enumerate(PRIORITIES)
}
# Characters Markdown gives meaning to inside a line; titles come from client systems.
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
_LINE_BREAKS: Final = re.compile(r"[\r\n\t\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    """One ticket; title and priority are None while the ticket is not known yet."""

    ticket_id: str
    title: str | None
    priority: Priority | None
    status: TicketStatus | None
    change_type: ChangeType = "fixed"


@dataclass(frozen=True, slots=True)
class ChangelogHeader:
    product: str
    version: str
    kind: ReleaseKind
    status: ReleaseStatus
    published_at: datetime | None
    notes: str | None
    release_id: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseChangelog:
    header: ChangelogHeader
    entries: Sequence[ChangelogEntry]


def order_entries(entries: Sequence[ChangelogEntry]) -> list[ChangelogEntry]:
    """Most urgent first (P1 … P4, then unknown), keeping listing order within a priority."""
    unknown = len(_PRIORITY_ORDER)
    return sorted(
        entries,
        key=lambda entry: unknown if entry.priority is None else _PRIORITY_ORDER[entry.priority],
    )


def sections_of(
    entries: Sequence[ChangelogEntry],
) -> list[tuple[ChangeType, list[ChangelogEntry]]]:
    """Non-empty sections in Keep a Changelog order, most urgent entries first in each."""
    ordered = order_entries(entries)
    return [
        (change_type, [entry for entry in ordered if entry.change_type == change_type])
        for change_type in CHANGE_TYPES
        if any(entry.change_type == change_type for entry in ordered)
    ]


def escape_inline(text: str) -> str:
    """One line of literal text: no line breaks, no Markdown formatting smuggled in."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", text)).strip()


def _heading(header: ChangelogHeader) -> str:
    if header.published_at is None:
        return f"## [Unreleased] - {escape_inline(header.version)}"
    suffix = " [YANKED]" if header.status == "rolled_back" else ""
    return (
        f"## [{escape_inline(header.version)}] - {header.published_at.date().isoformat()}{suffix}"
    )


def release_section_lines(changelog: ReleaseChangelog) -> list[str]:
    header = changelog.header
    lines = [_heading(header), "", _KIND_LINES.get(header.kind, header.kind)]
    if changelog.header.notes:
        lines += ["", changelog.header.notes.strip()]
    for change_type, entries in sections_of(changelog.entries):
        lines += ["", f"### {SECTION_HEADINGS[change_type]}", ""]
        for entry in entries:
            title = escape_inline(entry.title) if entry.title else "(title not known yet)"
            priority = f"**{entry.priority}** " if entry.priority else ""
            lines.append(f"- {priority}{title} (`{entry.ticket_id}`)")
    if not changelog.entries:
        lines += ["", "No tickets listed."]
    return lines


def render_release_markdown(changelog: ReleaseChangelog) -> str:
    """One release: its product as the title, then its section."""
    header = changelog.header
    lines = [f"# {escape_inline(header.product)} {escape_inline(header.version)}", ""]
    lines += release_section_lines(changelog)
    return "\n".join(lines) + "\n"


def render_markdown(title: str, releases: Sequence[ReleaseChangelog]) -> str:
    """Several releases, newest first, as one Keep a Changelog document."""
    lines = [
        f"# {escape_inline(title)}",
        "",
        "All notable changes are listed here, newest first. The format follows "
        "Keep a Changelog; versions follow Semantic Versioning.",
    ]
    for changelog in releases:
        lines += ["", *release_section_lines(changelog)]
    if not releases:
        lines += ["", "No releases in this range."]
    return "\n".join(lines) + "\n"
