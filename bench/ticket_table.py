"""The baselines' ticket table, built from intake's own model so it cannot drift from it.

The peer, the durable peer and the pgbench ceilings write "a table shaped like
``intake.tickets``". Written out by hand, that table kept the three indexes intake had when
the bench was first written, while intake's grew to nine (the desk's sort orders, the
auto-close timer's partial index, the full-text GIN index) and a generated ``tsvector``
column: the baselines then measured a cheaper row than intake writes. Here the DDL comes
from :class:`aftercare_intake.models.Ticket` itself: the same columns (the generated search
column too), checks and indexes, under the baseline's name. Foreign keys are left out: a
baseline has no clients table, and the key check is what the durable peer does instead.
"""

from __future__ import annotations

from sqlalchemy import MetaData, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.elements import quoted_name

from aftercare_intake.models import Ticket


def ticket_table(name: str) -> Table:
    """``intake.tickets`` as a table called ``name`` in the default schema, without foreign
    keys; index names prefixed with ``name`` (copies share a schema, and index names are
    unique in it)."""
    source = Ticket.__table__
    assert isinstance(source, Table)
    # schema=None: the new metadata's schema, none (SQLAlchemy's stubs omit that case).
    copy = source.to_metadata(MetaData(), schema=None, name=name)  # type: ignore[arg-type]
    for foreign_key in list(copy.foreign_key_constraints):
        copy.constraints.discard(foreign_key)
    copy.foreign_keys.clear()
    for column in copy.columns:
        column.foreign_keys.clear()
    copy.primary_key.name = f"{name}_pkey"  # an index name: unique in the schema too
    for index in copy.indexes:
        index.name = quoted_name(f"{name}_{index.name}", quote=None)
    return copy


def ticket_table_ddl(name: str) -> list[str]:
    """``CREATE TABLE`` and ``CREATE INDEX`` statements for :func:`ticket_table`."""
    table = ticket_table(name)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return [
        str(CreateTable(table).compile(dialect=dialect)),
        *(str(CreateIndex(index).compile(dialect=dialect)) for index in table.indexes),
    ]
