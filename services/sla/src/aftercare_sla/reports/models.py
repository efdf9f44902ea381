"""The reports' read models: what sla keeps from everyone's events to add them up.

Built only from the topics (``aftercare.clients``, ``aftercare.tickets``, ``aftercare.sla``,
``aftercare.releases``, ``aftercare.monitors``), never from sla's own clock tables, so
``python -m aftercare_sla.reports rebuild`` can empty them and replay the topics into the
same figures. Metric and priority columns take whatever the events carry: a new SLA
metric needs no change here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, Index, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from aftercare_sla.models import Base


class ReportClient(Base):
    """A client, its name and its current plan's time zone (period boundaries)."""

    __tablename__ = "report_clients"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    plan_id: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text, server_default="UTC")
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportPlanCalendar(Base):
    """A plan's business calendar as ``sla.client_plan_assigned`` carried it (NULL: 24x7)."""

    __tablename__ = "report_plan_calendars"

    plan_id: Mapped[str] = mapped_column(Text, primary_key=True)
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportTicket(Base):
    __tablename__ = "report_tickets"
    __table_args__ = (Index("ix_report_tickets_client_created", "client_id", "created_at"),)

    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportTicketSpan(Base):
    """One stretch a ticket was open: created or reopened, until resolved or closed."""

    __tablename__ = "report_ticket_spans"
    __table_args__ = (Index("ix_report_ticket_spans_client_opened", "client_id", "opened_at"),)

    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(Text)
    """``resolved`` or ``closed``."""


class ReportResolution(Base):
    __tablename__ = "report_resolutions"
    __table_args__ = (Index("ix_report_resolutions_client_resolved", "client_id", "resolved_at"),)

    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)


class ReportClock(Base):
    """One SLA clock as its ``sla.*`` events told it (key: ticket, metric, start)."""

    __tablename__ = "report_clocks"
    __table_args__ = (Index("ix_report_clocks_client_started", "client_id", "started_at"),)

    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    metric: Mapped[str] = mapped_column(Text, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    plan_id: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Stopped without a verdict (``sla.cancelled``: the plan was un-assigned); the report
    # leaves the clock out unless it was met or breached before.
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Closed pauses as [[start, end], ...] ISO-8601 pairs (a met clock reopened: the
    # stretch it was stopped, excluded as sla excludes it).
    pauses: Mapped[list[list[str]]] = mapped_column(JSONB)
    # Business seconds from start to met, worked out when sla.met arrived with the plan's
    # calendar known (NULL otherwise: the report works it out itself).
    business_seconds: Mapped[float | None] = mapped_column(Float)


class ReportDeployment(Base):
    __tablename__ = "report_deployments"
    __table_args__ = (Index("ix_report_deployments_client_deployed", "client_id", "deployed_at"),)

    deployment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    environment: Mapped[str] = mapped_column(Text)
    product: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    previous_version: Mapped[str | None] = mapped_column(Text)
    release_id: Mapped[str | None] = mapped_column(Text)
    fixed_tickets: Mapped[int] = mapped_column(Integer)
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportAdvisory(Base):
    __tablename__ = "report_advisories"

    advisory_id: Mapped[str] = mapped_column(Text, primary_key=True)
    summary: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(Text)
    cvss_score: Mapped[float | None] = mapped_column(Float)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportExposure(Base):
    """An advisory that affected a client: first matched, and when it was patched."""

    __tablename__ = "report_exposures"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    advisory_id: Mapped[str] = mapped_column(Text, primary_key=True)
    summary: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(Text)
    environments: Mapped[list[str]] = mapped_column(JSONB)
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    patched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deployment_id: Mapped[str | None] = mapped_column(Text)


class ReportMonitor(Base):
    __tablename__ = "report_monitors"
    __table_args__ = (Index("ix_report_monitors_client", "client_id"),)

    monitor_id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportIncident(Base):
    """A monitor's incident: ``monitor.failed`` until ``monitor.recovered`` (NULL: ongoing)."""

    __tablename__ = "report_incidents"
    __table_args__ = (Index("ix_report_incidents_client_failed", "client_id", "failed_at"),)

    monitor_id: Mapped[str] = mapped_column(Text, primary_key=True)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[str | None] = mapped_column(Text)
    recovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportFeedback(Base):
    __tablename__ = "report_feedback"
    __table_args__ = (Index("ix_report_feedback_client_received", "client_id", "received_at"),)

    feedback_id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[str] = mapped_column(Text)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportPublication(Base):
    """A monthly report announced with ``report.published``; the key makes it once only."""

    __tablename__ = "report_publications"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    period: Mapped[str] = mapped_column(Text, primary_key=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[str] = mapped_column(Text)


REPORT_TABLES: tuple[str, ...] = (
    "report_clients",
    "report_plan_calendars",
    "report_tickets",
    "report_ticket_spans",
    "report_resolutions",
    "report_clocks",
    "report_deployments",
    "report_advisories",
    "report_exposures",
    "report_monitors",
    "report_incidents",
    "report_feedback",
)
"""The tables a rebuild empties and refills (publications are not derived from events)."""
