"""The sla schema: plans, assignments, read models, SLA clocks and their durable timers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare_shared.client_keys import client_api_keys_table
from aftercare_shared.db import service_metadata
from aftercare_shared.events.catalog import (
    RESOLUTION_TRIGGERS,
    SLA_METRICS,
    SLA_OUTCOMES,
    Priority,
    ResolutionOn,
    SlaMetric,
    SlaOutcome,
    TicketStatus,
)
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import inbox_table, outbox_table
from aftercare_shared.rate_limit import rate_buckets_table
from aftercare_shared.staff_token_registry import staff_token_copies_table
from aftercare_sla.domain.clocks import TimerKind
from aftercare_sla.domain.ticket_lifecycle import ON_REOPEN_CHOICES, OnReopen

SCHEMA = schema_of(ServiceName.SLA)


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Plan(Base):
    """A maintenance plan: its latest version (``version``), which new tickets get.

    Every version is also kept whole in ``plan_versions``: a ticket's clocks keep the
    targets and rules of the version they started under.
    """

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("at_risk_ratio > 0 AND at_risk_ratio < 1", name="at_risk_ratio_range"),
        CheckConstraint(sql_one_of("resolution_on", RESOLUTION_TRIGGERS), name="resolution_on"),
        CheckConstraint(sql_one_of("on_reopen", ON_REOPEN_CHOICES), name="on_reopen"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    # {"P1": {"first_response_minutes": 30, "resolution_minutes": 240}, ...}
    targets: Mapped[dict[str, dict[str, int]]] = mapped_column(JSONB)
    # The calendar's canonical JSON (BusinessCalendar.to_json); NULL means 24x7.
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    at_risk_ratio: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When a ticket a release fixes counts as resolved: on publication, or once a
    # succeeded deployment reaches the client's ``resolution_environment``.
    resolution_on: Mapped[ResolutionOn] = mapped_column(Text, server_default="release")
    resolution_environment: Mapped[str] = mapped_column(Text, server_default="production")
    # Ticket statuses that pause the resolution clock.
    pause_on: Mapped[list[TicketStatus]] = mapped_column(
        JSONB, server_default='["waiting_on_client"]'
    )
    on_reopen: Mapped[OnReopen] = mapped_column(Text, server_default="resume")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlanVersion(Base):
    """One version of a plan, as it was: what clocks started under it are measured by."""

    __tablename__ = "plan_versions"
    __table_args__ = (
        CheckConstraint("at_risk_ratio > 0 AND at_risk_ratio < 1", name="at_risk_ratio_range"),
        CheckConstraint(sql_one_of("resolution_on", RESOLUTION_TRIGGERS), name="resolution_on"),
        CheckConstraint(sql_one_of("on_reopen", ON_REOPEN_CHOICES), name="on_reopen"),
    )

    plan_id: Mapped[str] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    targets: Mapped[dict[str, dict[str, int]]] = mapped_column(JSONB)
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    at_risk_ratio: Mapped[float] = mapped_column(Float)
    resolution_on: Mapped[ResolutionOn] = mapped_column(Text)
    resolution_environment: Mapped[str] = mapped_column(Text)
    pause_on: Mapped[list[TicketStatus]] = mapped_column(JSONB)
    on_reopen: Mapped[OnReopen] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClientPlan(Base):
    """Which plan covers a client's new tickets."""

    __tablename__ = "client_plans"

    # No foreign key to ``clients``: the client.created event may not have arrived yet.
    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The client's own time zone and holidays over the plan calendar's (NULL: none).
    calendar_override: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Client(Base):
    """Read model of intake's clients, kept from ``aftercare.clients``."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrackedTicket(Base):
    """What sla knows of a ticket: enough to drive its clocks. ``plan_id`` NULL = no plan.

    ``plan_version`` is the plan version the ticket's clocks started under;
    ``plan_removed_at`` is set when the client's plan was un-assigned (its clocks were
    cancelled then and nothing moves them any more).
    """

    __tablename__ = "tickets"

    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(Text, index=True)
    plan_id: Mapped[str | None] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_version: Mapped[int | None] = mapped_column(Integer)
    plan_removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # As the ticket events carry them (their contract checks the values).
    priority: Mapped[Priority] = mapped_column(Text)
    status: Mapped[TicketStatus] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Clock(Base):
    """One SLA clock of a ticket; its state derives from the timestamps (``domain.clocks``)."""

    __tablename__ = "clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "metric"),
        CheckConstraint(sql_one_of("metric", SLA_METRICS), name="metric_known"),
        CheckConstraint("met_at IS NULL OR breached_at IS NULL", name="met_or_breached"),
        CheckConstraint("met_at IS NULL OR stopped_at IS NOT NULL", name="met_when_stopped"),
        CheckConstraint(sql_one_of("outcome", SLA_OUTCOMES), name="outcome_known"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.ticket_id", ondelete="CASCADE"))
    metric: Mapped[SlaMetric] = mapped_column(Text)
    target_seconds: Mapped[int] = mapped_column(BigInteger)
    at_risk_ratio: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    at_risk_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Closed pauses as [[start, end], ...] ISO-8601 pairs: few per clock, always read whole.
    pauses: Mapped[list[list[str]]] = mapped_column(JSONB)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    at_risk_reached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)
    # next_response runs once per client reply; resolution again under on_reopen=restart.
    cycle: Mapped[int] = mapped_column(Integer, server_default="1")
    outcome: Mapped[SlaOutcome | None] = mapped_column(Text)


class ClockTimer(Base):
    """A durable at-risk or breach timer for one version of a clock.

    Rows are deleted once processed, so the table holds only pending timers. The worker
    reads them in ``(due_at, id)`` order straight off the matching index and stops at the
    first one not due: its scan costs what is due, not what is open.
    """

    __tablename__ = "clock_timers"
    __table_args__ = (
        CheckConstraint(sql_one_of("kind", [kind.value for kind in TimerKind]), name="kind_known"),
        Index("ix_clock_timers_due_at_id", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    clock_id: Mapped[str] = mapped_column(ForeignKey("clocks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    clock_version: Mapped[int] = mapped_column(Integer)


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
client_api_keys = client_api_keys_table(Base.metadata)
staff_token_copies = staff_token_copies_table(Base.metadata)
rate_buckets = rate_buckets_table(Base.metadata)
