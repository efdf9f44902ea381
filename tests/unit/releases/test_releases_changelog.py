"""Changelogs in Keep a Changelog form: sections, order, and Markdown that titles cannot break."""

from __future__ import annotations

from datetime import UTC, datetime

from aftercare_releases.changelog import (
    ChangelogEntry,
    ChangelogHeader,
    ReleaseChangelog,
    escape_inline,
    order_entries,
    render_markdown,
    render_release_markdown,
    sections_of,
)
from aftercare_releases.domain import default_change_type
from aftercare_shared.events.catalog import RELEASE_KINDS, ChangeType, Priority

HEADER = ChangelogHeader(
    product="Acme Portal",
    version="1.4.2",
    kind="bugfix",
    status="published",
    published_at=datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
    notes="Checkout is stable again.",
)


def entry(
    ticket_id: str, title: str | None, priority: Priority | None, change_type: ChangeType = "fixed"
) -> ChangelogEntry:
    return ChangelogEntry(
        ticket_id=ticket_id, title=title, priority=priority, status=None, change_type=change_type
    )


def test_a_release_renders_as_a_keep_a_changelog_section() -> None:
    markdown = render_release_markdown(
        ReleaseChangelog(
            HEADER,
            [
                entry("t3", "Slow search", "P3"),
                entry("t1", "Checkout crashes", "P1"),
                entry("t5", "Export to CSV", "P4", "added"),
                entry("t7", "XSS in search", "P1", "security"),
            ],
        )
    )
    assert markdown.startswith("# Acme Portal 1.4.2\n")
    assert "## [1.4.2] - 2026-11-27" in markdown
    assert "Bug-fix release" in markdown
    assert "Checkout is stable again." in markdown
    # Keep a Changelog's order: Added, …, Fixed, Security.
    assert (
        markdown.index("### Added") < markdown.index("### Fixed") < markdown.index("### Security")
    )
    assert markdown.index("Checkout crashes") < markdown.index("Slow search")
    assert "- **P1** Checkout crashes (`t1`)" in markdown


def test_sections_follow_keep_a_changelog_order_and_skip_empty_ones() -> None:
    sections = sections_of(
        [entry("a", "A", None, "security"), entry("b", "B", "P2", "added"), entry("c", "C", None)]
    )
    assert [change_type for change_type, _ in sections] == ["added", "fixed", "security"]


def test_unknown_tickets_are_listed_without_a_title() -> None:
    markdown = render_release_markdown(ReleaseChangelog(HEADER, [entry("t9", None, None)]))
    assert "- (title not known yet) (`t9`)" in markdown


def test_a_draft_is_unreleased_and_an_empty_release_says_no_tickets() -> None:
    draft = ChangelogHeader(
        product="Acme",
        version="2.0.0",
        kind="feature",
        status="draft",
        published_at=None,
        notes=None,
    )
    markdown = render_release_markdown(ReleaseChangelog(draft, []))
    assert "## [Unreleased] - 2.0.0" in markdown
    assert "No tickets listed." in markdown


def test_a_rolled_back_release_is_marked_yanked() -> None:
    header = ChangelogHeader(
        product="Acme",
        version="2.0.0",
        kind="feature",
        status="rolled_back",
        published_at=datetime(2026, 11, 27, tzinfo=UTC),
        notes=None,
    )
    assert "## [2.0.0] - 2026-11-27 [YANKED]" in render_release_markdown(
        ReleaseChangelog(header, [])
    )


def test_a_range_lists_releases_in_the_order_given_under_one_title() -> None:
    older = ChangelogHeader(
        product="Acme Portal",
        version="1.4.1",
        kind="bugfix",
        status="published",
        published_at=datetime(2026, 11, 1, tzinfo=UTC),
        notes=None,
    )
    markdown = render_markdown(
        "Changelog of Acme Portal",
        [ReleaseChangelog(HEADER, []), ReleaseChangelog(older, [])],
    )
    assert markdown.startswith("# Changelog of Acme Portal\n")
    assert markdown.index("## [1.4.2]") < markdown.index("## [1.4.1]")
    assert render_markdown("Empty", []).endswith("No releases in this range.\n")


def test_titles_cannot_inject_markdown_or_new_lines() -> None:
    assert escape_inline("**bold** [link](http://x)\n# heading") == (
        "\\*\\*bold\\*\\* \\[link\\]\\(http://x\\) \\# heading"
    )


def test_ordering_is_stable_within_a_priority_and_unknowns_go_last() -> None:
    ordered = order_entries(
        [entry("a", "A", None), entry("b", "B", "P2"), entry("c", "C", "P2"), entry("d", "D", "P1")]
    )
    assert [item.ticket_id for item in ordered] == ["d", "b", "c", "a"]


def test_every_release_kind_has_its_own_line() -> None:
    lines = set()
    for kind in RELEASE_KINDS:
        header = ChangelogHeader(
            product="Acme",
            version="1.0.0",
            kind=kind,
            status="draft",
            published_at=None,
            notes=None,
        )
        line = render_release_markdown(ReleaseChangelog(header, [])).splitlines()[4]
        assert line.endswith(" release"), kind
        lines.add(line)
    assert len(lines) == len(RELEASE_KINDS)


def test_change_types_default_from_the_ticket_kind() -> None:
    assert default_change_type("bug") == "fixed"
    assert default_change_type("security") == "security"
    assert default_change_type("feature_request") == "added"
    assert default_change_type("Feature Request") == "added"
    assert default_change_type(None) == "fixed"
    assert default_change_type("question") == "fixed"
