"""Slack and e-mail channels, routing filters (clients, minimum priority, environments).

Revision ID: 0002_channels_and_routing
Revises: 0001_initial
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0002_channels_and_routing"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)

# Written here, not imported, so this revision keeps its meaning when the domain changes.
OLD_CHANNELS = ("webhook",)
CHANNELS = ("webhook", "slack", "email")
PRIORITIES = ("P1", "P2", "P3", "P4")
INITIAL_CHANNEL_CHECK = "ck_endpoints_ck_endpoints_channel"
TARGET_RULE = "(channel = 'email') = (address IS NOT NULL AND url IS NULL)"


def upgrade() -> None:
    op.alter_column("endpoints", "url", nullable=True, schema=SCHEMA)
    op.add_column("endpoints", sa.Column("address", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column(
        "endpoints", sa.Column("client_ids", ARRAY(sa.Text), nullable=True), schema=SCHEMA
    )
    op.add_column("endpoints", sa.Column("min_priority", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column(
        "endpoints", sa.Column("environments", ARRAY(sa.Text), nullable=True), schema=SCHEMA
    )
    # 0001 spelled the full name, which the naming convention prefixed once more.
    op.drop_constraint(op.f(INITIAL_CHANNEL_CHECK), "endpoints", schema=SCHEMA)
    # Short names here: the naming convention makes them ck_endpoints_<name>.
    op.create_check_constraint(
        "channel", "endpoints", sql_one_of("channel", CHANNELS), schema=SCHEMA
    )
    op.create_check_constraint("target", "endpoints", TARGET_RULE, schema=SCHEMA)
    op.create_check_constraint(
        "min_priority",
        "endpoints",
        f"min_priority IS NULL OR {sql_one_of('min_priority', PRIORITIES)}",
        schema=SCHEMA,
    )
    # Routing reads these from the event once, at fan-out and replay, not from the body.
    op.add_column("messages", sa.Column("priority", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column("messages", sa.Column("environment", sa.Text, nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("messages", "environment", schema=SCHEMA)
    op.drop_column("messages", "priority", schema=SCHEMA)
    # Endpoints the old schema cannot describe (no URL) go, with their deliveries.
    op.execute(f"DELETE FROM {SCHEMA}.endpoints WHERE url IS NULL")  # noqa: S608 - constant
    op.execute(f"DELETE FROM {SCHEMA}.endpoints WHERE channel <> 'webhook'")  # noqa: S608
    op.drop_constraint(op.f("ck_endpoints_min_priority"), "endpoints", schema=SCHEMA)
    op.drop_constraint(op.f("ck_endpoints_target"), "endpoints", schema=SCHEMA)
    op.drop_constraint(op.f("ck_endpoints_channel"), "endpoints", schema=SCHEMA)
    op.create_check_constraint(
        op.f(INITIAL_CHANNEL_CHECK),
        "endpoints",
        sql_one_of("channel", OLD_CHANNELS),
        schema=SCHEMA,
    )
    op.drop_column("endpoints", "environments", schema=SCHEMA)
    op.drop_column("endpoints", "min_priority", schema=SCHEMA)
    op.drop_column("endpoints", "client_ids", schema=SCHEMA)
    op.drop_column("endpoints", "address", schema=SCHEMA)
    op.alter_column("endpoints", "url", nullable=False, schema=SCHEMA)
