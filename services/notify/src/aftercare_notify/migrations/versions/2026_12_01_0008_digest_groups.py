"""Grouping and digests: endpoints' group_by and timings, the groups and their events.

Revision ID: 0008_digest_groups
Revises: 0007_encrypt_endpoint_secrets
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from aftercare_shared.names import ServiceName, schema_of

revision: str = "0008_digest_groups"
down_revision: str | None = "0007_encrypt_endpoint_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("endpoints", sa.Column("group_by", ARRAY(sa.Text), nullable=True), schema=SCHEMA)
    for column in ("group_wait_seconds", "group_interval_seconds", "group_max_events"):
        op.add_column("endpoints", sa.Column(column, sa.Integer, nullable=True), schema=SCHEMA)
    op.create_table(
        "digest_groups",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("endpoint_id", sa.Text, nullable=False),
        sa.Column("labels", JSONB, nullable=False),
        _timestamp("flush_at", nullable=True),
        _timestamp("last_flushed_at", nullable=True),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_digest_groups"),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            [f"{SCHEMA}.endpoints.id"],
            name="fk_digest_groups_endpoint_id_endpoints",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("endpoint_id", "labels", name="uq_digest_groups_endpoint_id_labels"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_digest_groups_flush_at",
        "digest_groups",
        ["flush_at"],
        postgresql_where=sa.text("flush_at IS NOT NULL"),
        schema=SCHEMA,
    )
    op.create_table(
        "digest_items",
        sa.Column("group_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        _timestamp("released_at"),
        _timestamp("added_at"),
        sa.PrimaryKeyConstraint("group_id", "message_id", name="pk_digest_items"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            [f"{SCHEMA}.digest_groups.id"],
            name="fk_digest_items_group_id_digest_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            [f"{SCHEMA}.messages.id"],
            name="fk_digest_items_message_id_messages",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_digest_items_message_id", "digest_items", ["message_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("digest_items", schema=SCHEMA)
    op.drop_table("digest_groups", schema=SCHEMA)
    for column in ("group_max_events", "group_interval_seconds", "group_wait_seconds", "group_by"):
        op.drop_column("endpoints", column, schema=SCHEMA)
