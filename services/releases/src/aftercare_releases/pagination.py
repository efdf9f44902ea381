"""Keyset pagination over (created_at, id), newest first, with opaque cursors.

A cursor names the last release of the previous page; the next page starts strictly
after it. Unlike offsets, pages neither skip nor repeat rows when releases are added
while a client pages through.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import orjson

MAX_PAGE_SIZE: Final = 200


class InvalidCursorError(ValueError):
    """A cursor this service did not issue (or that was altered)."""


@dataclass(frozen=True, slots=True)
class PagePosition:
    """The sort key of the last row a page returned."""

    created_at: datetime
    release_id: str


def encode_cursor(position: PagePosition) -> str:
    raw = orjson.dumps({"c": position.created_at.isoformat(), "i": position.release_id})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> PagePosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        created_at = datetime.fromisoformat(data["c"])
        release_id = data["i"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise InvalidCursorError("cursor is not valid; pass next_cursor back unchanged") from error
    if created_at.tzinfo is None or not isinstance(release_id, str) or not release_id:
        raise InvalidCursorError("cursor is not valid; pass next_cursor back unchanged")
    return PagePosition(created_at=created_at, release_id=release_id)
