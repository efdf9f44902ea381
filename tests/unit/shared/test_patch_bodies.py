"""PATCH bodies: left out means unchanged, null clears only what may be cleared."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError

from aftercare_shared.patch import UNSET, PatchBody, is_set


class NoteUpdate(PatchBody):
    clearable: ClassVar[frozenset[str]] = frozenset({"notes"})
    title: str | None = None
    notes: str | None = None


def test_only_the_fields_sent_are_changes() -> None:
    assert NoteUpdate.model_validate({}).changes() == {}
    assert NoteUpdate.model_validate({"title": "New"}).changes() == {"title": "New"}


def test_null_clears_a_clearable_field() -> None:
    assert NoteUpdate.model_validate({"notes": None}).changes() == {"notes": None}


def test_null_for_a_field_that_cannot_be_cleared_is_refused() -> None:
    with pytest.raises(ValidationError, match="title cannot be null"):
        NoteUpdate.model_validate({"title": None})


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        NoteUpdate.model_validate({"colour": "red"})


def test_unset_is_distinct_from_none() -> None:
    assert not is_set(UNSET)
    assert is_set(None)
    assert repr(UNSET) == "UNSET"


def test_the_documented_schema_offers_null_only_where_it_clears() -> None:
    properties = NoteUpdate.model_json_schema()["properties"]
    assert properties["title"] == {"title": "Title", "type": "string"}
    assert {"type": "null"} in properties["notes"]["anyOf"]
