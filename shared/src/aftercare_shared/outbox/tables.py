"""The outbox and inbox tables every service keeps in its own schema.

The outbox holds events committed with the state change that caused them until the relay
has published them; the inbox remembers which events a consumer already applied, so a
re-delivered record is a no-op.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.schema import SchemaItem

OUTBOX_TABLE = "outbox"
INBOX_TABLE = "inbox"
OUTBOX_PURGE_INDEX = "ix_outbox_published_at"


def outbox_notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel that wakes the relay of ``schema`` when rows commit."""
    return f"{schema}_outbox"


def _outbox_purge_index() -> Index:
    # Published rows by age, for the purge (:mod:`aftercare_shared.outbox.purge`) to find
    # the oldest at once. Written by the relay when it marks a row, never on the commit path.
    return Index(
        OUTBOX_PURGE_INDEX, "published_at", postgresql_where=text("published_at IS NOT NULL")
    )


def _outbox_items(*, purge_index: bool = True) -> list[SchemaItem]:
    # Built fresh on every call: a Column belongs to exactly one Table.
    items: list[SchemaItem] = [
        Column("id", BigInteger, Identity(always=False), nullable=False),
        Column("event_id", Text, nullable=False),
        Column("topic", Text, nullable=False),
        Column("record_key", Text, nullable=False),
        # The whole CloudEvent as JSON (structured mode): the record value, byte for byte.
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        PrimaryKeyConstraint("id", name="pk_outbox"),
        UniqueConstraint("event_id", name="uq_outbox_event_id"),
        # The relay only ever scans unsent rows; this index stays as small as the backlog.
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    ]
    if purge_index:
        items.append(_outbox_purge_index())
    return items


def _inbox_items() -> list[SchemaItem]:
    return [
        Column("consumer", Text, nullable=False),
        Column("event_id", Text, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    ]


def _table(metadata: MetaData, name: str, items: list[SchemaItem]) -> Table:
    # Idempotent per MetaData, so models and helpers may both ask for the table.
    key = f"{metadata.schema}.{name}" if metadata.schema else name
    existing = metadata.tables.get(key)
    if existing is not None:
        return existing
    return Table(name, metadata, *items)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table in ``metadata``'s schema (events waiting for the relay)."""
    return _table(metadata, OUTBOX_TABLE, _outbox_items())


def inbox_table(metadata: MetaData) -> Table:
    """The inbox table in ``metadata``'s schema (event ids each consumer has applied)."""
    return _table(metadata, INBOX_TABLE, _inbox_items())


def create_messaging_tables(schema: str) -> None:
    """Create the outbox and inbox in ``schema``; call from a service's first migration.

    The schema itself must already exist (the migration environment creates it). The
    tables are made as the first migrations made them; :func:`create_outbox_purge_index`
    (a later migration of each service) adds the purge's index.
    """
    from alembic import op  # migrations only: the running service never loads alembic

    op.create_table(OUTBOX_TABLE, *_outbox_items(purge_index=False), schema=schema)
    op.create_table(INBOX_TABLE, *_inbox_items(), schema=schema)


def create_outbox_purge_index(schema: str) -> None:
    """Add the index the outbox purge reads (each service's ``outbox_purge_index`` revision)."""
    from alembic import op  # migrations only: the running service never loads alembic

    index = _outbox_purge_index()
    op.create_index(
        OUTBOX_PURGE_INDEX,
        OUTBOX_TABLE,
        ["published_at"],
        schema=schema,
        postgresql_where=index.dialect_options["postgresql"]["where"],
    )


def drop_outbox_purge_index(schema: str) -> None:
    """Undo :func:`create_outbox_purge_index`."""
    from alembic import op  # migrations only: the running service never loads alembic

    op.drop_index(OUTBOX_PURGE_INDEX, table_name=OUTBOX_TABLE, schema=schema)


def drop_messaging_tables(schema: str) -> None:
    """Drop what :func:`create_messaging_tables` created (the first migration's downgrade)."""
    from alembic import op  # migrations only: the running service never loads alembic

    op.drop_table(INBOX_TABLE, schema=schema)
    op.drop_table(OUTBOX_TABLE, schema=schema)
