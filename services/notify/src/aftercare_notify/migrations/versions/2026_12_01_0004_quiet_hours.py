"""Quiet hours: endpoints that deliver in business hours only, and clients' calendars.

Revision ID: 0004_quiet_hours
Revises: 0003_stream_positions
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0004_quiet_hours"
down_revision: str | None = "0003_stream_positions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)
DELIVERY_MODES = ("always", "business_hours")


def upgrade() -> None:
    op.add_column(
        "endpoints",
        sa.Column("deliver", sa.Text, nullable=False, server_default="always"),
        schema=SCHEMA,
    )
    op.add_column(
        "endpoints", sa.Column("except_priorities", ARRAY(sa.Text), nullable=True), schema=SCHEMA
    )
    op.create_check_constraint(
        "deliver", "endpoints", sql_one_of("deliver", DELIVERY_MODES), schema=SCHEMA
    )
    # Read model fed by sla.client_plan_assigned: each client's business calendar.
    op.create_table(
        "client_calendars",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("plan_id", sa.Text, nullable=False),
        sa.Column("calendar", JSONB, nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("client_calendars", schema=SCHEMA)
    op.drop_constraint(op.f("ck_endpoints_deliver"), "endpoints", schema=SCHEMA)
    op.drop_column("endpoints", "except_priorities", schema=SCHEMA)
    op.drop_column("endpoints", "deliver", schema=SCHEMA)
