"""Plans say when a ticket a release fixes counts as resolved: on release or on deploy.

Revision ID: 0002_resolution_on
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.events.catalog import RESOLUTION_TRIGGERS
from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0002_resolution_on"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.SLA)


def upgrade() -> None:
    # Existing plans keep today's behaviour: resolved when the release is published.
    op.add_column(
        "plans",
        sa.Column("resolution_on", sa.Text, nullable=False, server_default="release"),
        schema=SCHEMA,
    )
    op.add_column(
        "plans",
        sa.Column("resolution_environment", sa.Text, nullable=False, server_default="production"),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "resolution_on", "plans", sql_one_of("resolution_on", RESOLUTION_TRIGGERS), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_plans_resolution_on"), "plans", schema=SCHEMA)
    op.drop_column("plans", "resolution_environment", schema=SCHEMA)
    op.drop_column("plans", "resolution_on", schema=SCHEMA)
