"""Notify's first schema: messaging tables, client key read model, endpoints, deliveries.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from aftercare_shared.client_keys import (
    create_client_api_keys_table,
    drop_client_api_keys_table,
)
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import create_messaging_tables, drop_messaging_tables

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)

# The allowed values as this revision created them. They are written here, not imported
# from the domain, so the revision keeps its meaning when a later one changes them.
CHANNELS = ("webhook",)
ENDPOINT_STATUSES = ("enabled", "disabled")
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "cancelled")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    create_messaging_tables(SCHEMA)
    create_client_api_keys_table(SCHEMA)

    op.create_table(
        "endpoints",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("event_types", ARRAY(sa.Text), nullable=False),
        sa.Column("client_id", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        _timestamp("disabled_at", nullable=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text, nullable=True),
        _timestamp("previous_secret_expires_at", nullable=True),
        _timestamp("first_failure_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_endpoints"),
        sa.CheckConstraint(sql_one_of("channel", CHANNELS), name="ck_endpoints_channel"),
        sa.CheckConstraint(sql_one_of("status", ENDPOINT_STATUSES), name="ck_endpoints_status"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_endpoints_event_types",
        "endpoints",
        ["event_types"],
        postgresql_using="gin",
        schema=SCHEMA,
    )
    op.create_index("ix_endpoints_client_id", "endpoints", ["client_id"], schema=SCHEMA)

    op.create_table(
        "messages",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=True),
        _timestamp("event_time"),
        sa.Column("body", sa.LargeBinary, nullable=False),
        _timestamp("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        schema=SCHEMA,
    )
    op.create_index("ix_messages_received_at", "messages", ["received_at"], schema=SCHEMA)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("endpoint_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        _timestamp("due_at", nullable=True),
        _timestamp("locked_until", nullable=True),
        sa.Column("claim_token", sa.Text, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            [f"{SCHEMA}.endpoints.id"],
            name="fk_deliveries_endpoint_id_endpoints",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            [f"{SCHEMA}.messages.id"],
            name="fk_deliveries_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "endpoint_id", "message_id", name="uq_deliveries_endpoint_id_message_id"
        ),
        sa.CheckConstraint(sql_one_of("status", DELIVERY_STATUSES), name="ck_deliveries_status"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["due_at"],
        postgresql_where=sa.text("status = 'pending'"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deliveries_endpoint_id_created_at",
        "deliveries",
        ["endpoint_id", "created_at"],
        schema=SCHEMA,
    )
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"], schema=SCHEMA)

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("delivery_id", sa.Text, nullable=False),
        sa.Column("attempt_number", sa.Integer, nullable=False),
        _timestamp("attempted_at"),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.Column("response_body", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            [f"{SCHEMA}.deliveries.id"],
            name="fk_delivery_attempts_delivery_id_deliveries",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_delivery_attempts_delivery_id_attempted_at",
        "delivery_attempts",
        ["delivery_id", "attempted_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts", schema=SCHEMA)
    op.drop_table("deliveries", schema=SCHEMA)
    op.drop_table("messages", schema=SCHEMA)
    op.drop_table("endpoints", schema=SCHEMA)
    drop_client_api_keys_table(SCHEMA)
    drop_messaging_tables(SCHEMA)
