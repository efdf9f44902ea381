"""Release rules: what a valid release is and how its status moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from aftercare_releases.domain import (
    MAX_TICKETS_PER_RELEASE,
    NOTES_MAX_LENGTH,
    ReleaseRuleError,
    decide_publish,
    ensure_editable,
    is_ticket_id,
    normalize_notes,
    normalize_product,
    normalize_ticket_ids,
    unknown_ticket_ids,
)
from aftercare_releases.errors import ReleaseNotEditableError
from aftercare_shared.errors import ConflictError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_product_is_trimmed_and_bounded() -> None:
    assert normalize_product("  Acme Portal ") == "Acme Portal"
    with pytest.raises(ReleaseRuleError, match="empty"):
        normalize_product("   ")
    with pytest.raises(ReleaseRuleError, match="at most"):
        normalize_product("p" * 101)
    with pytest.raises(ReleaseRuleError, match="control"):
        normalize_product("Acme\nPortal")


def test_notes_keep_line_breaks_but_not_control_characters() -> None:
    assert normalize_notes("Fixes:\n- checkout\r\n\t- cart") == "Fixes:\n- checkout\r\n\t- cart"
    assert normalize_notes("   ") is None
    assert normalize_notes(None) is None
    with pytest.raises(ReleaseRuleError):
        normalize_notes("bell\x07")
    with pytest.raises(ReleaseRuleError):
        normalize_notes("n" * (NOTES_MAX_LENGTH + 1))


def test_ticket_ids_are_lowercased_and_deduplicated_in_first_mention_order() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    raw = [first.upper(), second, f" {first} ", second]
    assert normalize_ticket_ids(raw) == [first, second]


@pytest.mark.parametrize("bad", ["", "42", "not-a-uuid", "0" * 32, str(uuid.uuid4()) + "0"])
def test_ticket_ids_must_be_uuid_shaped(bad: str) -> None:
    assert not is_ticket_id(bad)
    with pytest.raises(ReleaseRuleError, match=r"ticket_ids\[1\]"):
        normalize_ticket_ids([str(uuid.uuid4()), bad])


def test_ticket_ids_are_capped_after_deduplication() -> None:
    ids = [str(uuid.uuid4()) for _ in range(MAX_TICKETS_PER_RELEASE)]
    assert len(normalize_ticket_ids(ids + ids)) == MAX_TICKETS_PER_RELEASE
    with pytest.raises(ReleaseRuleError, match="at most"):
        normalize_ticket_ids([*ids, str(uuid.uuid4())])


def test_only_drafts_are_editable() -> None:
    ensure_editable("r1", "draft")
    with pytest.raises(ReleaseNotEditableError, match="r1") as refused:
        ensure_editable("r1", "published")
    assert isinstance(refused.value, ConflictError)


def test_publishing_a_draft_publishes_it_now() -> None:
    decision = decide_publish("draft", None, now=NOW)
    assert decision.newly_published
    assert decision.published_at == NOW


def test_publishing_again_keeps_the_first_publication_and_emits_nothing() -> None:
    first = NOW - timedelta(days=2)
    decision = decide_publish("published", first, now=NOW)
    assert not decision.newly_published
    assert decision.published_at == first


def test_publishing_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError, match="timezone"):
        decide_publish("draft", None, now=datetime(2026, 11, 27, 12, 0))


def test_unknown_ticket_ids_keep_listing_order() -> None:
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    assert unknown_ticket_ids([a, b, c], {b}) == [a, c]
    assert unknown_ticket_ids([a], {a}) == []
