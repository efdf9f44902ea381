"""Opaque keyset cursors: what goes in comes back out; anything else is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftercare_releases.pagination import (
    InvalidCursorError,
    PagePosition,
    decode_cursor,
    encode_cursor,
)


@given(
    created_at=st.datetimes(timezones=st.just(UTC)),
    release_id=st.text(min_size=1, max_size=40),
)
def test_cursor_round_trips(created_at: datetime, release_id: str) -> None:
    position = PagePosition(created_at=created_at, release_id=release_id)
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "é",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"c": "yesterday", "i": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"c": "2026-11-27T12:00:00", "i": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"c": "2026-11-27T12:00:00+00:00", "i": 7}').decode(),
        base64.urlsafe_b64encode(b'{"c": "2026-11-27T12:00:00+00:00"}').decode(),
    ],
)
def test_foreign_or_altered_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
