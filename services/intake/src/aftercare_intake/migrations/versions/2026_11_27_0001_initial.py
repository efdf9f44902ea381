"""Intake schema: clients, API keys, tickets, comments, idempotency, outbox/inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 15:54:42.997348
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aftercare_intake.domain import OPEN_STATUSES
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        schema=SCHEMA,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("client_id", "key", name=op.f("pk_idempotency_keys")),
        schema=SCHEMA,
    )
    create_messaging_tables(SCHEMA)
    op.create_table(
        "processed_releases",
        sa.Column("release_id", sa.Text(), nullable=False),
        sa.Column("resolved_count", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("release_id", name=op.f("pk_processed_releases")),
        schema=SCHEMA,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], [f"{SCHEMA}.clients.id"], name=op.f("fk_api_keys_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_api_keys_client_id"), "api_keys", ["client_id"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("release", sa.Text(), nullable=True),
        sa.Column("stacktrace", sa.Text(), nullable=True),
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_release_id", sa.Text(), nullable=True),
        sa.Column(
            "sla_status",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], [f"{SCHEMA}.clients.id"], name=op.f("fk_tickets_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_tickets_client_created",
        "tickets",
        ["client_id", "created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        "ix_tickets_created", "tickets", ["created_at", "id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        "uq_tickets_open_fingerprint",
        "tickets",
        ["client_id", "fingerprint"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text(sql_one_of("status", OPEN_STATUSES)),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("author_kind", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], [f"{SCHEMA}.tickets.id"], name=op.f("fk_comments_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_comments_ticket_id"), "comments", ["ticket_id"], unique=False, schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_comments_ticket_id"), table_name="comments", schema=SCHEMA)
    op.drop_table("comments", schema=SCHEMA)
    op.drop_index(
        "uq_tickets_open_fingerprint",
        table_name="tickets",
        schema=SCHEMA,
        postgresql_where=sa.text(sql_one_of("status", OPEN_STATUSES)),
    )
    op.drop_index("ix_tickets_created", table_name="tickets", schema=SCHEMA)
    op.drop_index("ix_tickets_client_created", table_name="tickets", schema=SCHEMA)
    op.drop_table("tickets", schema=SCHEMA)
    op.drop_index(op.f("ix_api_keys_client_id"), table_name="api_keys", schema=SCHEMA)
    op.drop_table("api_keys", schema=SCHEMA)
    op.drop_table("processed_releases", schema=SCHEMA)
    drop_messaging_tables(SCHEMA)
    op.drop_table("idempotency_keys", schema=SCHEMA)
    op.drop_table("clients", schema=SCHEMA)
