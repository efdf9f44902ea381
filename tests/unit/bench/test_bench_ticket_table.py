"""The baselines' ticket table is intake's, under another name (bench/ticket_table.py)."""

from __future__ import annotations

from sqlalchemy import Table

from aftercare_intake.models import Ticket
from bench.ticket_table import ticket_table, ticket_table_ddl


def _intake_tickets() -> Table:
    table = Ticket.__table__
    assert isinstance(table, Table)
    return table


def _index_shapes(table: Table) -> set[tuple[str, ...]]:
    """Each index as its name (without the copy's prefix) and what it covers."""
    shapes = set()
    for index in table.indexes:
        name = str(index.name).removeprefix(f"{table.name}_")
        covered = tuple(
            getattr(expression, "name", None) or str(expression) for expression in index.expressions
        )
        shapes.add((name, *covered))
    return shapes


def test_the_copy_has_intakes_columns_and_generated_search_column() -> None:
    intake = _intake_tickets()
    copy = ticket_table("peer_reports")
    assert [column.name for column in copy.columns] == [column.name for column in intake.columns]
    assert str(copy.c.search.computed.sqltext) == str(intake.c.search.computed.sqltext)  # type: ignore[union-attr]


def test_the_copy_has_intakes_indexes_under_prefixed_names() -> None:
    intake = _intake_tickets()
    copy = ticket_table("peer_reports")
    assert len(intake.indexes) >= 8  # the desk's sort orders, the timer's, full text
    assert _index_shapes(copy) == _index_shapes(intake)
    assert all(str(index.name).startswith("peer_reports_") for index in copy.indexes)
    assert copy.primary_key.name == "peer_reports_pkey"


def test_the_copy_leaves_out_foreign_keys_and_leaves_intakes_table_alone() -> None:
    copy = ticket_table("pgbench_reports")
    assert not copy.foreign_key_constraints
    assert not any(column.foreign_keys for column in copy.columns)
    assert _intake_tickets().foreign_key_constraints  # the model itself is untouched
    statements = ticket_table_ddl("pgbench_reports")
    assert statements[0].lstrip().startswith("CREATE TABLE pgbench_reports")
    assert "REFERENCES" not in statements[0]
    assert any("USING gin (search)" in statement for statement in statements[1:])
