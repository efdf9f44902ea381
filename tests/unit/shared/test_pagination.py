"""Keyset cursors: round trips, one answer for anything not issued by us, page building."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import Column, DateTime, MetaData, Table, Text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql.elements import ColumnElement

from aftercare_shared.errors import InvalidError
from aftercare_shared.pagination import (
    InvalidCursorError,
    after_position,
    decode_cursor,
    encode_cursor,
    page_of,
)

AT = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


def test_a_cursor_round_trips_its_key_values() -> None:
    cursor = encode_cursor(AT, "t-1", 7)
    assert decode_cursor(cursor, datetime, str, int) == (AT, "t-1", 7)
    assert "=" not in cursor  # URL-safe without padding


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(orjson.dumps({"c": 1})).decode(),
        encode_cursor(AT),  # too few values
        encode_cursor("t-1", AT),  # wrong order
        encode_cursor(AT, ""),  # empty id
        base64.urlsafe_b64encode(orjson.dumps([{"t": "2026-12-01T09:00:00"}, "t"])).decode(),
        base64.urlsafe_b64encode(orjson.dumps([{"t": "yesterday"}, "t"])).decode(),
        base64.urlsafe_b64encode(orjson.dumps([{"t": AT.isoformat()}, True])).decode(),
    ],
)
def test_anything_we_did_not_issue_is_one_invalid_cursor_error(cursor: str) -> None:
    with pytest.raises(InvalidCursorError) as raised:
        decode_cursor(cursor, datetime, str)
    assert isinstance(raised.value, InvalidError)
    assert raised.value.status == 422
    assert raised.value.extensions["errors"][0]["kind"] == "invalid_cursor"


def test_after_position_compares_the_whole_key() -> None:
    table = Table(
        "tickets", MetaData(), Column("created_at", DateTime(timezone=True)), Column("id", Text)
    )
    columns = [table.c.created_at, table.c.id]
    assert after_position(columns, None, descending=True) is None
    clause = after_position(columns, (AT, "t-1"), descending=True)
    assert clause is not None
    sql = _sql(clause)
    assert "(tickets.created_at, tickets.id) < (" in sql
    ascending = after_position(columns, (AT, "t-1"), descending=False)
    assert ascending is not None
    assert "> (" in _sql(ascending)


def _sql(clause: ColumnElement[bool]) -> str:
    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
    return str(clause.compile(dialect=dialect))


@dataclass
class Row:
    created_at: datetime
    id: str


def test_page_of_uses_the_extra_row_only_to_say_there_is_more() -> None:
    rows = [Row(AT - timedelta(minutes=index), f"t-{index}") for index in range(4)]
    page = page_of(rows, limit=3, key=lambda row: (row.created_at, row.id), item=lambda row: row.id)
    assert page.items == ["t-0", "t-1", "t-2"]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor, datetime, str) == (rows[2].created_at, "t-2")

    last = page_of(rows[:3], limit=3, key=lambda row: (row.created_at, row.id), item=str)
    assert last.next_cursor is None
    empty = page_of([], limit=3, key=lambda row: (row.created_at, row.id), item=str)
    assert empty.items == []
    assert empty.next_cursor is None


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None, datetime, str) is None
