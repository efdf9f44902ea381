"""Ticket feedback: a client's 1-5 rating of each resolution of a ticket.

Revision ID: 0006_ticket_feedback
Revises: 0005_routine_checks
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.names import ServiceName, schema_of

revision: str = "0006_ticket_feedback"
down_revision: str | None = "0005_routine_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)


def upgrade() -> None:
    op.create_table(
        "ticket_feedback",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_feedback")),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            [f"{SCHEMA}.tickets.id"],
            name=op.f("fk_ticket_feedback_ticket_id_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            [f"{SCHEMA}.clients.id"],
            name=op.f("fk_ticket_feedback_client_id_clients"),
        ),
        sa.UniqueConstraint("ticket_id", "resolved_at", name=op.f("uq_ticket_feedback_cycle")),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_ticket_feedback_rating_range")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_ticket_feedback_ticket_id"), "ticket_feedback", ["ticket_id"], schema=SCHEMA
    )
    op.create_index(
        op.f("ix_ticket_feedback_client_created"),
        "ticket_feedback",
        ["client_id", "created_at", "id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("ticket_feedback", schema=SCHEMA)
