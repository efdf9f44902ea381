"""Releases, release items, the ticket and client-key read models, outbox and inbox.

Revision ID: 2026_11_27_0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.client_keys import (
    create_client_api_keys_table,
    drop_client_api_keys_table,
)
from aftercare_shared.events.catalog import RELEASE_KINDS
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import create_messaging_tables, drop_messaging_tables

revision: str = "2026_11_27_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.RELEASES)
# The statuses as this revision knew them (later revisions add more): frozen here so the
# revision creates the same constraint whatever the domain says today.
RELEASE_STATUSES = ("draft", "published")


def upgrade() -> None:
    create_messaging_tables(SCHEMA)
    create_client_api_keys_table(SCHEMA)
    op.create_table(
        "releases",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.UniqueConstraint("product", "version", name="uq_releases_product_version"),
        sa.CheckConstraint(sql_one_of("kind", RELEASE_KINDS), name="ck_releases_kind_known"),
        sa.CheckConstraint(sql_one_of("status", RELEASE_STATUSES), name="ck_releases_status_known"),
        sa.CheckConstraint(
            "(status = 'published') = (published_at IS NOT NULL)",
            name="ck_releases_published_at_iff_published",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_releases_created_at_id", "releases", ["created_at", "id"], schema=SCHEMA)
    op.create_table(
        "release_items",
        sa.Column("release_id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("release_id", "ticket_id", name="pk_release_items"),
        sa.ForeignKeyConstraint(
            ["release_id"],
            [f"{SCHEMA}.releases.id"],
            name="fk_release_items_release_id_releases",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_release_items_ticket_id", "release_items", ["ticket_id"], schema=SCHEMA)
    op.create_table(
        "ticket_views",
        sa.Column("ticket_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("priority", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_ticket_views"),
        schema=SCHEMA,
    )
    op.create_index("ix_ticket_views_client_id", "ticket_views", ["client_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("ticket_views", schema=SCHEMA)
    op.drop_table("release_items", schema=SCHEMA)
    op.drop_table("releases", schema=SCHEMA)
    drop_client_api_keys_table(SCHEMA)
    drop_messaging_tables(SCHEMA)
