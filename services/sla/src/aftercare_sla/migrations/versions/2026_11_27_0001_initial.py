"""SLA schema: plans, assignments, read models, clocks, durable timers, outbox/inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aftercare_shared.client_keys import create_client_api_keys_table, drop_client_api_keys_table
from aftercare_shared.events.catalog import SLA_METRICS
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import create_messaging_tables, drop_messaging_tables
from aftercare_sla.domain.clocks import TimerKind

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.SLA)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    create_messaging_tables(SCHEMA)
    create_client_api_keys_table(SCHEMA)
    op.create_table(
        "plans",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("targets", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("calendar", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("at_risk_ratio", sa.Float(), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "at_risk_ratio > 0 AND at_risk_ratio < 1", name=op.f("ck_plans_at_risk_ratio_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        schema=SCHEMA,
    )
    op.create_table(
        "client_plans",
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=False),
        _timestamp("assigned_at"),
        sa.ForeignKeyConstraint(
            ["plan_id"], [f"{SCHEMA}.plans.id"], name=op.f("fk_client_plans_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_plans")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_client_plans_plan_id"), "client_plans", ["plan_id"], schema=SCHEMA)
    op.create_table(
        "clients",
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_clients")),
        schema=SCHEMA,
    )
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=True),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["plan_id"], [f"{SCHEMA}.plans.id"], name=op.f("fk_tickets_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_tickets")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_tickets_client_id"), "tickets", ["client_id"], schema=SCHEMA)
    op.create_index(op.f("ix_tickets_plan_id"), "tickets", ["plan_id"], schema=SCHEMA)
    op.create_table(
        "clocks",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("target_seconds", sa.BigInteger(), nullable=False),
        sa.Column("at_risk_ratio", sa.Float(), nullable=False),
        _timestamp("started_at"),
        _timestamp("due_at"),
        _timestamp("at_risk_at"),
        sa.Column("pauses", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _timestamp("paused_at", nullable=True),
        _timestamp("stopped_at", nullable=True),
        _timestamp("met_at", nullable=True),
        _timestamp("breached_at", nullable=True),
        _timestamp("at_risk_reached_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(sql_one_of("metric", SLA_METRICS), name=op.f("ck_clocks_metric_known")),
        sa.CheckConstraint(
            "met_at IS NULL OR breached_at IS NULL", name=op.f("ck_clocks_met_or_breached")
        ),
        sa.CheckConstraint(
            "met_at IS NULL OR stopped_at IS NOT NULL", name=op.f("ck_clocks_met_when_stopped")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            [f"{SCHEMA}.tickets.ticket_id"],
            name=op.f("fk_clocks_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clocks")),
        sa.UniqueConstraint("ticket_id", "metric", name=op.f("uq_clocks_ticket_id_metric")),
        schema=SCHEMA,
    )
    op.create_table(
        "clock_timers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("clock_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        _timestamp("due_at"),
        sa.Column("clock_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            sql_one_of("kind", [kind.value for kind in TimerKind]),
            name=op.f("ck_clock_timers_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["clock_id"],
            [f"{SCHEMA}.clocks.id"],
            name=op.f("fk_clock_timers_clock_id_clocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_timers")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_clock_timers_due_at"), "clock_timers", ["due_at"], schema=SCHEMA)
    op.create_index(op.f("ix_clock_timers_clock_id"), "clock_timers", ["clock_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("clock_timers", schema=SCHEMA)
    op.drop_table("clocks", schema=SCHEMA)
    op.drop_table("tickets", schema=SCHEMA)
    op.drop_table("clients", schema=SCHEMA)
    op.drop_table("client_plans", schema=SCHEMA)
    op.drop_table("plans", schema=SCHEMA)
    drop_client_api_keys_table(SCHEMA)
    drop_messaging_tables(SCHEMA)
