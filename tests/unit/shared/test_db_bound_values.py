"""Statements built once take their values as bind parameters typed as their columns."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare_shared.db import bound_values, column_arrays, table_of, unnested_rows

_TABLE = Table(
    "things",
    MetaData(schema="s"),
    Column("id", Text, primary_key=True),
    Column("count", Integer),
    Column("seen_at", DateTime(timezone=True)),
)


def test_each_value_is_a_parameter_named_and_typed_as_its_column() -> None:
    values = bound_values(_TABLE, ("id", "seen_at"))
    assert list(values) == ["id", "seen_at"]
    assert values["id"].key == "id"
    assert isinstance(values["seen_at"].type, DateTime)
    assert values["seen_at"].type.timezone


def test_a_statement_built_once_runs_with_each_calls_values() -> None:
    statement = insert(_TABLE).values(bound_values(_TABLE, ("id", "count", "seen_at")))
    compiled = statement.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    assert str(compiled) == (
        "INSERT INTO s.things (id, count, seen_at) VALUES "
        "(%(id)s::VARCHAR, %(count)s::INTEGER, %(seen_at)s::TIMESTAMP WITH TIME ZONE)"
    )
    seen = datetime(2026, 12, 2, tzinfo=UTC)
    params = statement.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        column_keys=["id", "count", "seen_at"],
    ).construct_params({"id": "a", "count": 2, "seen_at": seen})
    assert params == {"id": "a", "count": 2, "seen_at": seen}


def test_a_run_of_rows_travels_as_one_array_per_column_whatever_its_length() -> None:
    run = unnested_rows(_TABLE, ("id", "count"))
    statement = insert(_TABLE).from_select(["id", "count"], select(*run.c))
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    assert str(statement.compile(dialect=dialect)) == (
        "INSERT INTO s.things (id, count) SELECT run.id, run.count \n"
        "FROM unnest(%(id)s::TEXT[], %(count)s::INTEGER[]) AS run(id, count)"
    )
    params = statement.compile(dialect=dialect).construct_params(
        {"id": ["a", "b", "c"], "count": [1, 2, 3]}
    )
    assert params == {"id": ["a", "b", "c"], "count": [1, 2, 3]}


def test_column_arrays_read_one_list_per_column_in_row_order() -> None:
    rows = [SimpleNamespace(id="a", created_at=1), SimpleNamespace(id="b", created_at=2)]
    assert column_arrays(rows, "id", seen_at="created_at") == {
        "id": ["a", "b"],
        "seen_at": [1, 2],
    }


class _Base(DeclarativeBase):
    pass


class _Thing(_Base):
    __tablename__ = "mapped_things"

    id: Mapped[str] = mapped_column(Text, primary_key=True)


def test_table_of_gives_a_mapped_classs_table() -> None:
    assert table_of(_Thing).name == "mapped_things"
