"""Render a release's changelog: the tickets it fixes, as Markdown a client can read."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from aftercare_releases.domain import ReleaseStatus
from aftercare_shared.events.catalog import PRIORITIES, Priority, ReleaseKind, TicketStatus

_KIND_HEADINGS: Final[dict[ReleaseKind, str]] = {
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
    """One fixed ticket; title and priority are None while the ticket is not known yet."""

    ticket_id: str
    title: str | None
    priority: Priority | None
    status: TicketStatus | None


@dataclass(frozen=True, slots=True)
class ChangelogHeader:
    product: str
    version: str
    kind: ReleaseKind
    status: ReleaseStatus
    published_at: datetime | None
    notes: str | None


def order_entries(entries: Sequence[ChangelogEntry]) -> list[ChangelogEntry]:
    """Most urgent first (P1 … P4, then unknown), keeping listing order within a priority."""
    unknown = len(_PRIORITY_ORDER)
    return sorted(
        entries,
        key=lambda entry: unknown if entry.priority is None else _PRIORITY_ORDER[entry.priority],
    )


def escape_inline(text: str) -> str:
    """One line of literal text: no line breaks, no Markdown formatting smuggled in."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", text)).strip()


def render_markdown(header: ChangelogHeader, entries: Sequence[ChangelogEntry]) -> str:
    kind = _KIND_HEADINGS.get(header.kind, header.kind)
    if header.published_at is not None:
        when = f"Published {header.published_at.date().isoformat()}"
    else:
        when = "Draft — not published yet"
    lines = [
        f"# {escape_inline(header.product)} {escape_inline(header.version)}",
        "",
        f"{kind} · {when}",
    ]
    if header.notes:
        lines += ["", header.notes.strip()]
    lines += ["", "## Fixed tickets", ""]
    if not entries:
        lines.append("No tickets listed.")
    for entry in order_entries(entries):
        title = escape_inline(entry.title) if entry.title else "(title not known yet)"
        priority = f"**{entry.priority}** " if entry.priority else ""
        lines.append(f"- {priority}{title} (`{entry.ticket_id}`)")
    return "\n".join(lines) + "\n"
