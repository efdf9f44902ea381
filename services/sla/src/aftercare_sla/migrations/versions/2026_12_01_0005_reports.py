"""Reports: read models of everyone's events for the SLA compliance and monthly reports.

Revision ID: 0005_reports
Revises: 0004_sla_desk
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aftercare_shared.names import ServiceName, schema_of

revision: str = "0005_reports"
down_revision: str | None = "0004_sla_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.SLA)


def upgrade() -> None:
    op.create_table(
        "report_advisories",
        sa.Column("advisory_id", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("cvss_score", sa.Float(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("advisory_id", name=op.f("pk_report_advisories")),
        schema=SCHEMA,
    )
    op.create_table(
        "report_clients",
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("plan_id", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), server_default="UTC", nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_report_clients")),
        schema=SCHEMA,
    )
    op.create_table(
        "report_clocks",
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=True),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pauses", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("business_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", "metric", "started_at", name=op.f("pk_report_clocks")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_clocks_client_started",
        "report_clocks",
        ["client_id", "started_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "report_deployments",
        sa.Column("deployment_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("product", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("previous_version", sa.Text(), nullable=True),
        sa.Column("release_id", sa.Text(), nullable=True),
        sa.Column("fixed_tickets", sa.Integer(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_report_deployments")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_deployments_client_deployed",
        "report_deployments",
        ["client_id", "deployed_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "report_exposures",
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("advisory_id", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("environments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deployment_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("client_id", "advisory_id", name=op.f("pk_report_exposures")),
        schema=SCHEMA,
    )
    op.create_table(
        "report_feedback",
        sa.Column("feedback_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_report_feedback")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_feedback_client_received",
        "report_feedback",
        ["client_id", "received_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "report_incidents",
        sa.Column("monitor_id", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.Text(), nullable=True),
        sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("monitor_id", "failed_at", name=op.f("pk_report_incidents")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_incidents_client_failed",
        "report_incidents",
        ["client_id", "failed_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "report_monitors",
        sa.Column("monitor_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("monitor_id", name=op.f("pk_report_monitors")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_monitors_client", "report_monitors", ["client_id"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "report_plan_calendars",
        sa.Column("plan_id", sa.Text(), nullable=False),
        sa.Column(
            "calendar", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True
        ),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_report_plan_calendars")),
        schema=SCHEMA,
    )
    op.create_table(
        "report_publications",
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "period", name=op.f("pk_report_publications")),
        schema=SCHEMA,
    )
    op.create_table(
        "report_resolutions",
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "resolved_at", name=op.f("pk_report_resolutions")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_resolutions_client_resolved",
        "report_resolutions",
        ["client_id", "resolved_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "report_ticket_spans",
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", "opened_at", name=op.f("pk_report_ticket_spans")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_ticket_spans_client_opened",
        "report_ticket_spans",
        ["client_id", "opened_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "report_tickets",
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_report_tickets")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_tickets_client_created",
        "report_tickets",
        ["client_id", "created_at"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("ix_report_tickets_client_created", table_name="report_tickets", schema=SCHEMA)
    op.drop_table("report_tickets", schema=SCHEMA)
    op.drop_index(
        "ix_report_ticket_spans_client_opened", table_name="report_ticket_spans", schema=SCHEMA
    )
    op.drop_table("report_ticket_spans", schema=SCHEMA)
    op.drop_index(
        "ix_report_resolutions_client_resolved", table_name="report_resolutions", schema=SCHEMA
    )
    op.drop_table("report_resolutions", schema=SCHEMA)
    op.drop_table("report_publications", schema=SCHEMA)
    op.drop_table("report_plan_calendars", schema=SCHEMA)
    op.drop_index("ix_report_monitors_client", table_name="report_monitors", schema=SCHEMA)
    op.drop_table("report_monitors", schema=SCHEMA)
    op.drop_index("ix_report_incidents_client_failed", table_name="report_incidents", schema=SCHEMA)
    op.drop_table("report_incidents", schema=SCHEMA)
    op.drop_index("ix_report_feedback_client_received", table_name="report_feedback", schema=SCHEMA)
    op.drop_table("report_feedback", schema=SCHEMA)
    op.drop_table("report_exposures", schema=SCHEMA)
    op.drop_index(
        "ix_report_deployments_client_deployed", table_name="report_deployments", schema=SCHEMA
    )
    op.drop_table("report_deployments", schema=SCHEMA)
    op.drop_index("ix_report_clocks_client_started", table_name="report_clocks", schema=SCHEMA)
    op.drop_table("report_clocks", schema=SCHEMA)
    op.drop_table("report_clients", schema=SCHEMA)
    op.drop_table("report_advisories", schema=SCHEMA)
