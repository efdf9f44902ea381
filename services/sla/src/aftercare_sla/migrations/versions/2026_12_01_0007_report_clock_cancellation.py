"""Report clocks remember a cancellation (``sla.cancelled``: the client's plan was
un-assigned), so the report leaves such a clock out instead of counting it as running.

Revision ID: 0007_report_clock_cancellation
Revises: 0006_staff_token_revocation
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.names import ServiceName, schema_of

revision: str = "0007_report_clock_cancellation"
down_revision: str | None = "0006_staff_token_revocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.SLA)


def upgrade() -> None:
    op.add_column(
        "report_clocks",
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("report_clocks", "cancelled_at", schema=SCHEMA)
