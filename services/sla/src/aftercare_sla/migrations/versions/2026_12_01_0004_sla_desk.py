"""The support desk's SLA: next response, plan versions and options, client calendar
overrides, un-assignment and clock outcomes.

- ``clocks.metric`` admits ``next_response``; clocks get ``cycle`` and ``outcome``.
- ``plans`` get ``pause_on``, ``on_reopen``, ``version``, ``updated_at``; every version is
  kept in ``plan_versions`` (existing plans become their version 1).
- ``client_plans.calendar_override``; ``tickets.plan_version`` (1 for tickets with a plan)
  and ``tickets.plan_removed_at``.
- The timer index covers the claim's whole order, ``(due_at, id)``: the due timers come
  straight off the index, with no sort of the ties, however many timers are pending.

Revision ID: 0004_sla_desk
Revises: 0002_resolution_on
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0004_sla_desk"
down_revision: str | None = "0002_resolution_on"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.SLA)
# Spelled out: a migration describes the schema of its day, not the catalog of today.
METRICS_BEFORE = ("first_response", "resolution")
METRICS_AFTER = ("first_response", "next_response", "resolution")
OUTCOMES = ("met", "breached", "met_by_resolution", "cancelled")
ON_REOPEN = ("resume", "restart")
RESOLUTION_TRIGGERS = ("release", "deploy")


def upgrade() -> None:
    op.drop_constraint(op.f("ck_clocks_metric_known"), "clocks", schema=SCHEMA)
    op.create_check_constraint(
        "metric_known", "clocks", sql_one_of("metric", METRICS_AFTER), schema=SCHEMA
    )
    op.add_column(
        "clocks", sa.Column("cycle", sa.Integer, nullable=False, server_default="1"), schema=SCHEMA
    )
    op.add_column("clocks", sa.Column("outcome", sa.Text, nullable=True), schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.clocks "  # noqa: S608 - formats in constants only
        "SET outcome = CASE WHEN breached_at IS NOT NULL THEN 'breached' ELSE 'met' END "
        "WHERE stopped_at IS NOT NULL"
    )
    op.create_check_constraint(
        "outcome_known", "clocks", sql_one_of("outcome", OUTCOMES), schema=SCHEMA
    )

    op.add_column(
        "plans",
        sa.Column(
            "pause_on",
            postgresql.JSONB(),
            nullable=False,
            server_default='["waiting_on_client"]',
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "plans",
        sa.Column("on_reopen", sa.Text, nullable=False, server_default="resume"),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "on_reopen", "plans", sql_one_of("on_reopen", ON_REOPEN), schema=SCHEMA
    )
    op.add_column(
        "plans", sa.Column("version", sa.Integer, nullable=False, server_default="1"), schema=SCHEMA
    )
    op.add_column(
        "plans", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA
    )
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("targets", postgresql.JSONB(), nullable=False),
        sa.Column("calendar", postgresql.JSONB(), nullable=True),
        sa.Column("at_risk_ratio", sa.Float(), nullable=False),
        sa.Column("resolution_on", sa.Text(), nullable=False),
        sa.Column("resolution_environment", sa.Text(), nullable=False),
        sa.Column("pause_on", postgresql.JSONB(), nullable=False),
        sa.Column("on_reopen", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "at_risk_ratio > 0 AND at_risk_ratio < 1",
            name=op.f("ck_plan_versions_at_risk_ratio_range"),
        ),
        sa.CheckConstraint(
            sql_one_of("resolution_on", RESOLUTION_TRIGGERS),
            name=op.f("ck_plan_versions_resolution_on"),
        ),
        sa.CheckConstraint(
            sql_one_of("on_reopen", ON_REOPEN), name=op.f("ck_plan_versions_on_reopen")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            [f"{SCHEMA}.plans.id"],
            name=op.f("fk_plan_versions_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "version", name=op.f("pk_plan_versions")),
        schema=SCHEMA,
    )
    op.execute(
        f"INSERT INTO {SCHEMA}.plan_versions (plan_id, version, name, targets, calendar,"  # noqa: S608 - formats in constants only
        " at_risk_ratio, resolution_on, resolution_environment, pause_on, on_reopen, created_at)"
        " SELECT id, version, name, targets, calendar, at_risk_ratio, resolution_on,"
        f" resolution_environment, pause_on, on_reopen, created_at FROM {SCHEMA}.plans"
    )

    op.add_column(
        "client_plans",
        sa.Column("calendar_override", postgresql.JSONB(), nullable=True),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_clock_timers_due_at_id"), "clock_timers", ["due_at", "id"], schema=SCHEMA
    )
    op.drop_index(op.f("ix_clock_timers_due_at"), "clock_timers", schema=SCHEMA)
    op.add_column("tickets", sa.Column("plan_version", sa.Integer, nullable=True), schema=SCHEMA)
    op.add_column(
        "tickets",
        sa.Column("plan_removed_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.execute(
        f"UPDATE {SCHEMA}.tickets "  # noqa: S608 - formats in constants only
        "SET plan_version = 1 WHERE plan_id IS NOT NULL"
    )


def downgrade() -> None:
    op.create_index(op.f("ix_clock_timers_due_at"), "clock_timers", ["due_at"], schema=SCHEMA)
    op.drop_index(op.f("ix_clock_timers_due_at_id"), "clock_timers", schema=SCHEMA)
    op.drop_column("tickets", "plan_removed_at", schema=SCHEMA)
    op.drop_column("tickets", "plan_version", schema=SCHEMA)
    op.drop_column("client_plans", "calendar_override", schema=SCHEMA)
    op.drop_table("plan_versions", schema=SCHEMA)
    op.drop_column("plans", "updated_at", schema=SCHEMA)
    op.drop_column("plans", "version", schema=SCHEMA)
    op.drop_constraint(op.f("ck_plans_on_reopen"), "plans", schema=SCHEMA)
    op.drop_column("plans", "on_reopen", schema=SCHEMA)
    op.drop_column("plans", "pause_on", schema=SCHEMA)
    op.drop_constraint(op.f("ck_clocks_outcome_known"), "clocks", schema=SCHEMA)
    op.drop_column("clocks", "outcome", schema=SCHEMA)
    op.drop_column("clocks", "cycle", schema=SCHEMA)
    # The older schema has no next_response: those clocks (and their timers) go.
    op.execute(
        f"DELETE FROM {SCHEMA}.clocks "  # noqa: S608 - formats in constants only
        "WHERE metric = 'next_response'"
    )
    op.drop_constraint(op.f("ck_clocks_metric_known"), "clocks", schema=SCHEMA)
    op.create_check_constraint(
        "metric_known", "clocks", sql_one_of("metric", METRICS_BEFORE), schema=SCHEMA
    )
