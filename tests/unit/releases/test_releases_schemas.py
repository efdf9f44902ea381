"""Request bodies: strict shapes, the release rules applied, clear messages."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from aftercare_releases.api.schemas import ReleaseCreate, ReleaseUpdate
from aftercare_releases.use_cases import ReleaseChanges
from aftercare_shared.patch import UNSET


def test_a_valid_release_is_normalized() -> None:
    ticket = str(uuid.uuid4())
    body = ReleaseCreate.model_validate(
        {
            "product": " Acme ",
            "version": " 1.2.3 ",
            "kind": "security",
            "ticket_ids": [ticket.upper(), ticket],
        }
    )
    assert (body.product, body.version, body.notes, body.ticket_ids) == (
        "Acme",
        "1.2.3",
        None,
        [ticket],
    )


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "hotfix"},
        {"version": ""},
        {"version": "1 0"},
        {"product": ""},
        {"ticket_ids": ["nope"]},
        {"ticket_ids": "not-a-list"},
        {"status": "published"},
        {"product": 5},
    ],
)
def test_bad_input_is_refused(change: dict[str, object]) -> None:
    body = {"product": "Acme", "version": "1.0", "kind": "bugfix", **change}
    with pytest.raises(ValidationError):
        ReleaseCreate.model_validate(body)


def test_update_tells_left_out_from_null() -> None:
    assert ReleaseUpdate.model_validate({}).model_fields_set == set()
    cleared = ReleaseUpdate.model_validate({"notes": None})
    assert cleared.model_fields_set == {"notes"}
    assert cleared.notes is None


def test_update_changes_leave_what_was_not_sent_unset() -> None:
    assert ReleaseChanges(**ReleaseUpdate.model_validate({}).changes()) == ReleaseChanges(
        kind=UNSET, notes=UNSET, ticket_ids=UNSET
    )
    assert ReleaseChanges(**ReleaseUpdate.model_validate({"notes": None}).changes()) == (
        ReleaseChanges(notes=None)
    )
    ticket = str(uuid.uuid4())
    changes = ReleaseChanges(
        **ReleaseUpdate.model_validate(
            {"kind": "security", "notes": "  ", "ticket_ids": [ticket.upper()]}
        ).changes()
    )
    # Blank notes are no notes; ids are normalized as on create.
    assert changes == ReleaseChanges(kind="security", notes=None, ticket_ids=[ticket])


@pytest.mark.parametrize("field", ["kind", "ticket_ids"])
def test_update_refuses_null_for_fields_that_cannot_be_empty(field: str) -> None:
    with pytest.raises(ValidationError, match="cannot be null"):
        ReleaseUpdate.model_validate({field: None})


def test_update_refuses_fields_that_never_change() -> None:
    with pytest.raises(ValidationError):
        ReleaseUpdate.model_validate({"version": "2.0"})
