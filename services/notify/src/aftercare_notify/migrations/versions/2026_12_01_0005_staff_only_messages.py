"""Staff-only messages: an internal comment reaches agency-wide endpoints and staff
streams only. Messages stored before were all client-visible (every comment was public).

Revision ID: 0005_staff_only_messages
Revises: 0004_quiet_hours
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.names import ServiceName, schema_of

revision: str = "0005_staff_only_messages"
down_revision: str | None = "0004_quiet_hours"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("staff_only", sa.Boolean, nullable=False, server_default=sa.text("false")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("messages", "staff_only", schema=SCHEMA)
