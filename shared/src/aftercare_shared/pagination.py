"""One way to page through a list: opaque keyset cursors, one page-size rule.

A list endpoint sorts by a unique key (usually ``(created_at, id)``), asks the
repository for ``limit + 1`` rows strictly after the cursor's position, and answers with
:func:`page_of`. Unlike offsets, pages neither skip nor repeat rows while rows are added.

The cursor is base64url JSON of the last row's key values. It is opaque to clients: a
cursor that does not decode to the expected shape is refused with one answer wherever it
is used: a 422 ``validation-failed`` problem whose ``errors[0].kind`` is ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.orm import QueryableAttribute

from aftercare_shared.errors import InvalidError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size (1 to 200, default 50).")
]
PageCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=500,
        description="`next_cursor` of the previous page, passed back unchanged.",
    ),
]

KeyValue = datetime | str | int
CursorPosition = tuple[Any, ...]


class InvalidCursorError(InvalidError):
    """A cursor this API did not issue, or one that was altered."""

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not valid; pass next_cursor back unchanged.",
            errors=[
                {
                    "location": "query.cursor",
                    "message": "not a cursor this API returned",
                    "kind": "invalid_cursor",
                }
            ],
        )


def encode_cursor(*values: KeyValue) -> str:
    encoded = [
        {"t": value.isoformat()} if isinstance(value, datetime) else value for value in values
    ]
    return base64.urlsafe_b64encode(orjson.dumps(encoded)).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None, *types: type[KeyValue]) -> CursorPosition | None:
    """The key values in ``cursor``, checked against ``types``; else InvalidCursorError.

    No cursor (the first page) is no position: callers pass the query parameter as is.
    """
    if cursor is None:
        return None
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursorError() from error
    if not isinstance(raw, list) or len(raw) != len(types):
        raise InvalidCursorError()
    return tuple(_decode_value(value, expected) for value, expected in zip(raw, types, strict=True))


def _decode_value(value: object, expected: type[KeyValue]) -> KeyValue:
    if expected is datetime:
        if not isinstance(value, dict) or not isinstance(value.get("t"), str):
            raise InvalidCursorError()
        try:
            parsed = datetime.fromisoformat(value["t"])
        except ValueError as error:
            raise InvalidCursorError() from error
        if parsed.tzinfo is None:
            raise InvalidCursorError()
        return parsed
    # bool is an int to Python, never a key value of ours.
    if type(value) is not expected or value == "":
        raise InvalidCursorError()
    assert isinstance(value, str | int)
    return value


def after_position(
    columns: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
    position: CursorPosition | None,
    *,
    descending: bool,
) -> ColumnElement[bool] | None:
    """The WHERE clause "strictly after ``position``" for rows sorted by ``columns``."""
    if position is None:
        return None
    key = tuple_(*columns)
    return key < tuple_(*position) if descending else key > tuple_(*position)


ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `?cursor=` for the next page; null on the last page."
    )


def page_of(
    rows: Sequence[RowT],
    *,
    limit: int,
    key: Callable[[RowT], tuple[KeyValue, ...]],
    item: Callable[[RowT], ItemT],
) -> Page[ItemT]:
    """A page from ``limit + 1`` fetched rows: the extra row only says there is more."""
    shown = rows[:limit]
    next_cursor = encode_cursor(*key(shown[-1])) if len(rows) > limit and shown else None
    return Page[ItemT](items=[item(row) for row in shown], next_cursor=next_cursor)
