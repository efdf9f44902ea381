"""Staff tokens get ids and roles (so they can be listed and revoked); client keys may
expire; token buckets every replica shares (rate limits across replicas).

Revision ID: 0007_staff_token_revocation
Revises: 0006_ticket_feedback
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.events.catalog import STAFF_ROLES
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.rate_limit import create_rate_buckets_table, drop_rate_buckets_table

revision: str = "0007_staff_token_revocation"
down_revision: str | None = "0006_ticket_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_tokens")),
        sa.CheckConstraint(sql_one_of("role", STAFF_ROLES), name=op.f("ck_staff_tokens_role")),
        schema=SCHEMA,
    )
    create_rate_buckets_table(SCHEMA)
    op.create_index(
        op.f("ix_staff_tokens_created"),
        "staff_tokens",
        ["created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    drop_rate_buckets_table(SCHEMA)
    op.drop_index(op.f("ix_staff_tokens_created"), table_name="staff_tokens", schema=SCHEMA)
    op.drop_table("staff_tokens", schema=SCHEMA)
    op.drop_column("api_keys", "expires_at", schema=SCHEMA)
