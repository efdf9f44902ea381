"""Routine checks: monitors, their durable timers, check-ins, probes and incidents.

Revision ID: 0005_routine_checks
Revises: 0004_support_desk
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_intake.monitors.evaluation import STORED_STATES
from aftercare_intake.monitors.schedule import SCHEDULE_TYPES
from aftercare_intake.monitors.vocabulary import (
    CHECK_IN_SOURCES,
    CHECK_IN_STATUSES,
    HTTP_METHODS,
    PROBE_OUTCOMES,
)
from aftercare_shared.events.catalog import MONITOR_KINDS, PRIORITIES
from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0005_routine_checks"
down_revision: str | None = "0004_support_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(table: str, name: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql_one_of(column, values), name=op.f(f"ck_{table}_{name}"))


def _monitor_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["monitor_id"],
        [f"{SCHEMA}.monitors.id"],
        name=op.f(f"fk_{table}_monitor_id_monitors"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("schedule_type", sa.Text(), nullable=False),
        sa.Column("crontab", sa.Text(), nullable=True),
        sa.Column("interval_value", sa.Integer(), nullable=True),
        sa.Column("interval_unit", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("checkin_margin_minutes", sa.Integer(), nullable=False),
        sa.Column("max_runtime_minutes", sa.Integer(), nullable=False),
        sa.Column("failure_threshold", sa.Integer(), nullable=False),
        sa.Column("recovery_threshold", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("method", sa.Text(), server_default="GET", nullable=False),
        sa.Column("expected_status", sa.Text(), server_default="2xx", nullable=False),
        sa.Column("body_contains", sa.Text(), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), server_default="10", nullable=False),
        sa.Column("certificate_expiry_days", sa.Integer(), server_default="14", nullable=False),
        sa.Column("follow_redirects", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("ping_key", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("consecutive_successes", sa.Integer(), nullable=False),
        _timestamp("failing_since", nullable=True),
        sa.Column("incident_count", sa.Integer(), nullable=False),
        sa.Column("open_incident_id", sa.Text(), nullable=True),
        sa.Column("open_ticket_id", sa.Text(), nullable=True),
        _timestamp("next_expected_at", nullable=True),
        _timestamp("run_started_at", nullable=True),
        sa.Column("run_check_in_id", sa.Text(), nullable=True),
        _timestamp("last_check_in_at", nullable=True),
        sa.Column("certificate_alerted", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["client_id"], [f"{SCHEMA}.clients.id"], name=op.f("fk_monitors_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors")),
        sa.UniqueConstraint("client_id", "slug", name=op.f("uq_monitors_client_id_slug")),
        sa.UniqueConstraint("ping_key", name=op.f("uq_monitors_ping_key")),
        _check("monitors", "kind", "kind", MONITOR_KINDS),
        _check("monitors", "schedule_type", "schedule_type", SCHEDULE_TYPES),
        _check("monitors", "priority", "priority", PRIORITIES),
        _check("monitors", "state", "state", STORED_STATES),
        _check("monitors", "method", "method", HTTP_METHODS),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_monitors_client_created", "monitors", ["client_id", "created_at", "id"], schema=SCHEMA
    )
    op.create_index("ix_monitors_created", "monitors", ["created_at", "id"], schema=SCHEMA)

    op.create_table(
        "monitor_timers",
        sa.Column("monitor_id", sa.Text(), nullable=False),
        _timestamp("due_at"),
        _monitor_fk("monitor_timers"),
        sa.PrimaryKeyConstraint("monitor_id", name=op.f("pk_monitor_timers")),
        schema=SCHEMA,
    )
    op.create_index("ix_monitor_timers_due", "monitor_timers", ["due_at"], schema=SCHEMA)

    op.create_table(
        "monitor_check_ins",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("monitor_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("check_in_id", sa.Text(), nullable=True),
        sa.Column("exit_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("environment", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _monitor_fk("monitor_check_ins"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_check_ins")),
        _check("monitor_check_ins", "status", "status", CHECK_IN_STATUSES),
        _check("monitor_check_ins", "source", "source", CHECK_IN_SOURCES),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_monitor_check_ins_page",
        "monitor_check_ins",
        ["monitor_id", "created_at", "id"],
        schema=SCHEMA,
    )

    op.create_table(
        "monitor_probes",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("monitor_id", sa.Text(), nullable=False),
        _timestamp("started_at"),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _timestamp("certificate_expires_at", nullable=True),
        _monitor_fk("monitor_probes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_probes")),
        _check("monitor_probes", "outcome", "outcome", PROBE_OUTCOMES),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_monitor_probes_page",
        "monitor_probes",
        ["monitor_id", "started_at", "id"],
        schema=SCHEMA,
    )

    op.create_table(
        "monitor_incidents",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("monitor_id", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _timestamp("started_at"),
        _timestamp("ended_at", nullable=True),
        _monitor_fk("monitor_incidents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_incidents")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_monitor_incidents_period",
        "monitor_incidents",
        ["monitor_id", "started_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "monitor_incidents",
        "monitor_probes",
        "monitor_check_ins",
        "monitor_timers",
        "monitors",
    ):
        op.drop_table(table, schema=SCHEMA)
