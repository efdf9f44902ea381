"""Resolution on deploy: each client's resolution mode, and tickets awaiting a deploy.

Revision ID: 0003_resolution_on_deploy
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.events.catalog import RESOLUTION_TRIGGERS
from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0003_resolution_on_deploy"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)


def upgrade() -> None:
    op.add_column("tickets", sa.Column("fix_release_id", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column(
        "tickets",
        sa.Column("fix_released_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    # Read model fed by sla.client_plan_assigned.
    op.create_table(
        "client_resolution_modes",
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("plan_id", sa.Text, nullable=False),
        sa.Column("resolution_on", sa.Text, nullable=False),
        sa.Column("resolution_environment", sa.Text, nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_resolution_modes")),
        sa.CheckConstraint(
            sql_one_of("resolution_on", RESOLUTION_TRIGGERS),
            name=op.f("ck_client_resolution_modes_resolution_on"),
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("client_resolution_modes", schema=SCHEMA)
    op.drop_column("tickets", "fix_released_at", schema=SCHEMA)
    op.drop_column("tickets", "fix_release_id", schema=SCHEMA)
