"""The changelog Markdown: readable, ordered by urgency, immune to Markdown in titles."""

from __future__ import annotations

from datetime import UTC, datetime

from aftercare_releases.changelog import (
    ChangelogEntry,
    ChangelogHeader,
    escape_inline,
    order_entries,
    render_markdown,
)
from aftercare_shared.events.catalog import RELEASE_KINDS, Priority

HEADER = ChangelogHeader(
    product="Acme Portal",
    version="1.4.2",
    kind="bugfix",
    status="published",
    published_at=datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
    notes="Checkout is stable again.",
)


def entry(ticket_id: str, title: str | None, priority: Priority | None) -> ChangelogEntry:
    return ChangelogEntry(ticket_id=ticket_id, title=title, priority=priority, status=None)


def test_markdown_lists_the_fixed_tickets_most_urgent_first() -> None:
    markdown = render_markdown(
        HEADER,
        [entry("t3", "Slow search", "P3"), entry("t1", "Checkout crashes", "P1")],
    )
    assert markdown.startswith("# Acme Portal 1.4.2\n")
    assert "Bug-fix release · Published 2026-11-27" in markdown
    assert "Checkout is stable again." in markdown
    assert markdown.index("Checkout crashes") < markdown.index("Slow search")
    assert "- **P1** Checkout crashes (`t1`)" in markdown


def test_unknown_tickets_are_listed_without_a_title() -> None:
    markdown = render_markdown(HEADER, [entry("t9", None, None)])
    assert "- (title not known yet) (`t9`)" in markdown


def test_a_draft_says_so_and_an_empty_release_says_no_tickets() -> None:
    draft = ChangelogHeader(
        product="Acme", version="2.0", kind="feature", status="draft", published_at=None, notes=None
    )
    markdown = render_markdown(draft, [])
    assert "Feature release · Draft — not published yet" in markdown
    assert "No tickets listed." in markdown


def test_titles_cannot_inject_markdown_or_new_lines() -> None:
    assert escape_inline("**bold** [link](http://x)\n# heading") == (
        "\\*\\*bold\\*\\* \\[link\\]\\(http://x\\) \\# heading"
    )


def test_ordering_is_stable_within_a_priority_and_unknowns_go_last() -> None:
    ordered = order_entries(
        [entry("a", "A", None), entry("b", "B", "P2"), entry("c", "C", "P2"), entry("d", "D", "P1")]
    )
    assert [item.ticket_id for item in ordered] == ["d", "b", "c", "a"]


def test_every_release_kind_has_its_own_heading() -> None:
    headings = set()
    for kind in RELEASE_KINDS:
        header = ChangelogHeader(
            product="Acme", version="1", kind=kind, status="draft", published_at=None, notes=None
        )
        heading = render_markdown(header, []).splitlines()[2]
        assert heading.endswith(" release · Draft — not published yet"), kind
        headings.add(heading)
    assert len(headings) == len(RELEASE_KINDS)
