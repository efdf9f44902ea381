"""ORM models of the intake schema: clients, projects, API keys, tickets and their
fingerprints, occurrence samples and tallies, history, comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare_intake.domain import (
    CLOSE_REASONS,
    HISTORY_ACTIONS,
    TALLY_DIMENSIONS,
    CloseReason,
    HistoryAction,
    TallyDimension,
)
from aftercare_intake.monitors.evaluation import STORED_STATES, StoredState
from aftercare_intake.monitors.schedule import SCHEDULE_TYPES, ScheduleType
from aftercare_intake.monitors.vocabulary import (
    CHECK_IN_SOURCES,
    CHECK_IN_STATUSES,
    HTTP_METHODS,
    PROBE_OUTCOMES,
    CheckInSource,
    CheckInStatus,
    HttpMethod,
    ProbeOutcome,
)
from aftercare_shared.auth import API_KEY_SCOPES, ApiKeyScope
from aftercare_shared.db import service_metadata
from aftercare_shared.events.catalog import (
    COMMENT_VISIBILITIES,
    MONITOR_KINDS,
    PRIORITIES,
    RESOLUTION_TRIGGERS,
    STAFF_ROLES,
    TICKET_KINDS,
    CommentAuthorKind,
    CommentVisibility,
    MonitorKind,
    Priority,
    ResolutionOn,
    Severity,
    StaffRole,
    TicketKind,
    TicketStatus,
)
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import inbox_table, outbox_table
from aftercare_shared.rate_limit import rate_buckets_table

SCHEMA = schema_of(ServiceName.INTAKE)

API_KEY_SCOPE_CHECK = sql_one_of("scope", API_KEY_SCOPES)
CLOSE_REASON_CHECK = sql_one_of("close_reason", CLOSE_REASONS)
HISTORY_ACTION_CHECK = sql_one_of("action", HISTORY_ACTIONS)
TALLY_DIMENSION_CHECK = sql_one_of("dimension", TALLY_DIMENSIONS)
TICKET_KIND_CHECK = sql_one_of("kind", TICKET_KINDS)
COMMENT_VISIBILITY_CHECK = sql_one_of("visibility", COMMENT_VISIBILITIES)

# Full-text search (``GET /v1/tickets?q=``): the text search configuration, and what is
# searched. Generated columns, so Postgres keeps them true on every write, whichever path
# wrote the row (a report, Sentry, a merge, a comment).
SEARCH_CONFIG = "english"
TICKET_SEARCH_EXPRESSION = (
    f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, title), 'A') || "
    f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce(description, '')), 'B')"
)
COMMENT_SEARCH_EXPRESSION = f"to_tsvector('{SEARCH_CONFIG}'::regconfig, body)"
# The "SLA due" sort key: tickets without a counting clock after every due time. A SQL
# constant (never a bound parameter), so the planner matches the query to the index.
NO_SLA_DUE_SQL = "'9999-12-31 00:00:00+00'::timestamptz"
SLA_DUE_SORT_SQL = f"coalesce(sla_due_at, {NO_SLA_DUE_SQL})"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Project(Base):
    """One of a client's apps: a Sentry DSN names it by its (positive integer) id."""

    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_client_created", "client_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # Origins browser SDKs may send from (CORS): "https://shop.example", or "*".
    allowed_origins: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(API_KEY_SCOPE_CHECK, name="scope"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), nullable=False, index=True)
    name: Mapped[str | None] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    scope: Mapped[ApiKeyScope] = mapped_column(Text, nullable=False, server_default="client")
    # The DSN's public key: ingest-only, so it is stored as is (SDKs ship it in apps).
    public_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """After it the key (and its DSN) is refused; None: it lasts until revoked."""


class StaffToken(Base):
    """A minted staff token's id, role and lifetime; never the token (it is signed)."""

    __tablename__ = "staff_tokens"
    __table_args__ = (
        CheckConstraint(sql_one_of("role", STAFF_ROLES), name="role"),
        Index("ix_staff_tokens_created", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[StaffRole] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_client_created", "client_id", "created_at", "id"),
        Index("ix_tickets_created", "created_at", "id"),
        CheckConstraint(CLOSE_REASON_CHECK, name="close_reason"),
        CheckConstraint(TICKET_KIND_CHECK, name="kind"),
        # The desk's other sort orders (see ``ticket_search``) and its filters.
        Index("ix_tickets_updated", "updated_at", "id"),
        Index("ix_tickets_priority_created", "priority", "created_at", "id"),
        Index("ix_tickets_sla_due", text(SLA_DUE_SORT_SQL), "created_at", "id"),
        Index("ix_tickets_assignee", "assignee"),
        # Entries written at once, no pending list (migration 0008: steady write times).
        Index(
            "ix_tickets_search",
            "search",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        # The auto-close timer's due rows: resolved tickets by when they were resolved.
        Index(
            "ix_tickets_resolved_due",
            "resolved_at",
            postgresql_where=text("status = 'resolved'"),
        ),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[Severity] = mapped_column(Text, nullable=False)
    priority: Mapped[Priority] = mapped_column(Text, nullable=False)
    kind: Mapped[TicketKind] = mapped_column(Text, nullable=False, server_default="bug")
    status: Mapped[TicketStatus] = mapped_column(Text, nullable=False)
    # The staff subject working on it; NULL: nobody yet.
    assignee: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(Text, nullable=False)
    environment: Mapped[str | None] = mapped_column(Text)
    release: Mapped[str | None] = mapped_column(Text)
    stacktrace: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by_release_id: Mapped[str | None] = mapped_column(Text)
    # Under a plan resolving on deploy: the published release that fixes the ticket while
    # it waits for that fix to reach the plan's environment (NULL otherwise).
    fix_release_id: Mapped[str | None] = mapped_column(Text)
    fix_released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What sla last told us, per metric: {"resolution": {"state": "breached", "due_at": ...}}.
    sla_status: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # The earliest due time of its clocks still counting (running, at risk or breached),
    # kept with ``sla_status``: the "SLA due" sort. NULL: no clock counts.
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(TICKET_SEARCH_EXPRESSION, persisted=True), deferred=True
    )
    platform: Mapped[str | None] = mapped_column(Text)
    close_reason: Mapped[CloseReason | None] = mapped_column(Text)
    merged_into_ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"))
    # The release that resolved it: an occurrence from an older version is no regression.
    fixed_in_release_id: Mapped[str | None] = mapped_column(Text)
    fixed_in_product: Mapped[str | None] = mapped_column(Text)
    fixed_in_version: Mapped[str | None] = mapped_column(Text)
    regressed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    regression_release: Mapped[str | None] = mapped_column(Text)
    # The count the last ticket.created/ticket.occurred announced, and when: the coalescing.
    occurrences_announced: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    occurrence_announced_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False
    )


class TicketFingerprint(Base):
    """Routes a client's fingerprint to its ticket, and counts that fingerprint.

    Every occurrence increments its row atomically (the row lock serialises a storm, so
    the count is exact across replicas); merging re-points rows to the target ticket and
    unmerging moves one to a new ticket, taking its samples and tallies along.
    """

    __tablename__ = "ticket_fingerprints"
    __table_args__ = (UniqueConstraint("client_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[str] = mapped_column(Text, nullable=False)
    fingerprint: Mapped[str] = mapped_column(Text, nullable=False)
    # Deferred: the route is claimed first, the ticket it opens is inserted right after.
    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("tickets.id", deferrable=True, initially="DEFERRED"),
        nullable=False,
        index=True,
    )
    origin_ticket_id: Mapped[str] = mapped_column(Text, nullable=False)
    """The ticket the fingerprint first opened (title and severity when split off again)."""
    occurrences: Mapped[int] = mapped_column(BigInteger, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class OccurrenceSample(Base):
    """The full details of one occurrence: slot 0 the first, slots 1..N a ring of the latest."""

    __tablename__ = "occurrence_samples"
    __table_args__ = (Index("ix_occurrence_samples_page", "fingerprint_id", "created_at", "id"),)

    fingerprint_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_fingerprints.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(Text, nullable=False)
    number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """The occurrence's number within its fingerprint (1 = the first)."""
    event_id: Mapped[str | None] = mapped_column(Text)
    project_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    title: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[Severity] = mapped_column(Text, nullable=False)
    platform: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    release: Mapped[str | None] = mapped_column(Text)
    server_name: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class FingerprintTally(Base):
    """Occurrences of one fingerprint per release and per environment."""

    __tablename__ = "fingerprint_tallies"
    __table_args__ = (CheckConstraint(TALLY_DIMENSION_CHECK, name="dimension"),)

    fingerprint_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_fingerprints.id", ondelete="CASCADE"), primary_key=True
    )
    dimension: Mapped[TallyDimension] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    occurrences: Mapped[int] = mapped_column(BigInteger, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class OccurrenceBacklog(Base):
    """Tickets with occurrences no ``ticket.occurred`` has announced yet (the flush job's list)."""

    __tablename__ = "occurrence_backlog"

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True)


class TicketHistory(Base):
    """Who did what to a ticket, when: merges, status and priority changes, reopenings."""

    __tablename__ = "ticket_history"
    __table_args__ = (
        Index("ix_ticket_history_ticket_created", "ticket_id", "created_at", "id"),
        CheckConstraint(HISTORY_ACTION_CHECK, name="action"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), nullable=False)
    action: Mapped[HistoryAction] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint(COMMENT_VISIBILITY_CHECK, name="visibility"),
        Index("ix_comments_search", "search", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), nullable=False, index=True)
    author_kind: Mapped[CommentAuthorKind] = mapped_column(Text, nullable=False)
    author: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # internal: a staff note no client key ever reads (nor its search, nor its webhooks).
    visibility: Mapped[CommentVisibility] = mapped_column(
        Text, nullable=False, server_default="public"
    )
    search: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(COMMENT_SEARCH_EXPRESSION, persisted=True), deferred=True
    )


class IdempotencyRecord(Base):
    """A report answered under an ``Idempotency-Key``: a retry gets the same answer."""

    __tablename__ = "idempotency_keys"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(Text, nullable=False)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class ProcessedRelease(Base):
    """Releases already applied, so a re-published release resolves nothing twice."""

    __tablename__ = "processed_releases"

    release_id: Mapped[str] = mapped_column(Text, primary_key=True)
    resolved_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ClientResolutionMode(Base):
    """Read model of ``sla.client_plan_assigned``: when a client's fixed tickets resolve.

    A client without a row resolves on release (the behaviour before plans had a say).
    No foreign key to ``clients``: sla may announce the plan before intake stores the client.
    """

    __tablename__ = "client_resolution_modes"
    __table_args__ = (
        CheckConstraint(sql_one_of("resolution_on", RESOLUTION_TRIGGERS), name="resolution_on"),
    )

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    plan_id: Mapped[str] = mapped_column(Text, nullable=False)
    resolution_on: Mapped[ResolutionOn] = mapped_column(Text, nullable=False)
    resolution_environment: Mapped[str] = mapped_column(Text, nullable=False)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Monitor(Base):
    """A routine check: a heartbeat fed by check-ins, or an uptime probe; with its state."""

    __tablename__ = "monitors"
    __table_args__ = (
        UniqueConstraint("client_id", "slug"),
        Index("ix_monitors_client_created", "client_id", "created_at", "id"),
        Index("ix_monitors_created", "created_at", "id"),
        CheckConstraint(sql_one_of("kind", MONITOR_KINDS), name="kind"),
        CheckConstraint(sql_one_of("schedule_type", SCHEDULE_TYPES), name="schedule_type"),
        CheckConstraint(sql_one_of("priority", PRIORITIES), name="priority"),
        CheckConstraint(sql_one_of("state", STORED_STATES), name="state"),
        CheckConstraint(sql_one_of("method", HTTP_METHODS), name="method"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    slug: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[MonitorKind] = mapped_column(Text, nullable=False)
    environment: Mapped[str | None] = mapped_column(Text)
    schedule_type: Mapped[ScheduleType] = mapped_column(Text, nullable=False)
    crontab: Mapped[str | None] = mapped_column(Text)
    interval_value: Mapped[int | None] = mapped_column(Integer)
    interval_unit: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text, nullable=False)
    checkin_margin_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    max_runtime_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    failure_threshold: Mapped[int] = mapped_column(Integer, nullable=False)
    recovery_threshold: Mapped[int] = mapped_column(Integer, nullable=False)
    priority: Mapped[Priority] = mapped_column(Text, nullable=False)
    paused: Mapped[bool] = mapped_column(nullable=False)
    # Uptime probes only.
    url: Mapped[str | None] = mapped_column(Text)
    method: Mapped[HttpMethod] = mapped_column(Text, nullable=False, server_default="GET")
    expected_status: Mapped[str] = mapped_column(Text, nullable=False, server_default="2xx")
    body_contains: Mapped[str | None] = mapped_column(Text)
    timeout_seconds: Mapped[float] = mapped_column(nullable=False, server_default="10")
    certificate_expiry_days: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="14"
    )
    follow_redirects: Mapped[bool] = mapped_column(nullable=False, server_default="false")
    # The secret of the monitor's ping URL (the credential; rotatable).
    ping_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    # State (see monitors.evaluation).
    state: Mapped[StoredState] = mapped_column(Text, nullable=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False)
    consecutive_successes: Mapped[int] = mapped_column(Integer, nullable=False)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    incident_count: Mapped[int] = mapped_column(Integer, nullable=False)
    open_incident_id: Mapped[str | None] = mapped_column(Text)
    open_ticket_id: Mapped[str | None] = mapped_column(Text)
    next_expected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run_check_in_id: Mapped[str | None] = mapped_column(Text)
    last_check_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The SHA-256 of the certificate an expiry ticket was opened for (once per certificate).
    certificate_alerted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class MonitorTimer(Base):
    """A monitor's next deadline (heartbeat) or next probe (uptime): the durable timer.

    One row per active monitor; claimed where ``due_at`` has passed, in ``due_at`` order,
    with ``FOR UPDATE SKIP LOCKED``, so the work per round is what is due, not the number
    of monitors, and two replicas never take the same row.
    """

    __tablename__ = "monitor_timers"
    __table_args__ = (Index("ix_monitor_timers_due", "due_at"),)

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class MonitorCheckIn(Base):
    """One check-in (or a miss/timeout the timer recorded in place of one)."""

    __tablename__ = "monitor_check_ins"
    __table_args__ = (
        Index("ix_monitor_check_ins_page", "monitor_id", "created_at", "id"),
        CheckConstraint(sql_one_of("status", CHECK_IN_STATUSES), name="status"),
        CheckConstraint(sql_one_of("source", CHECK_IN_SOURCES), name="source"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[CheckInStatus] = mapped_column(Text, nullable=False)
    source: Mapped[CheckInSource] = mapped_column(Text, nullable=False)
    check_in_id: Mapped[str | None] = mapped_column(Text)
    exit_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    environment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class MonitorProbe(Base):
    """One uptime probe: what answered, how fast, or what went wrong."""

    __tablename__ = "monitor_probes"
    __table_args__ = (
        Index("ix_monitor_probes_page", "monitor_id", "started_at", "id"),
        CheckConstraint(sql_one_of("outcome", PROBE_OUTCOMES), name="outcome"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    outcome: Mapped[ProbeOutcome] = mapped_column(Text, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    certificate_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MonitorIncident(Base):
    """One incident of a monitor: from the threshold crossed to recovery (availability)."""

    __tablename__ = "monitor_incidents"
    __table_args__ = (Index("ix_monitor_incidents_period", "monitor_id", "started_at"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False
    )
    ticket_id: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TicketFeedback(Base):
    """A client's rating of one resolution of a ticket (satisfaction, CSAT).

    ``resolved_at`` names the resolution cycle rated: unique per ticket, so each cycle is
    rated at most once, and a reopened and re-resolved ticket (a new ``resolved_at``) can be
    rated again.
    """

    __tablename__ = "ticket_feedback"
    __table_args__ = (
        UniqueConstraint("ticket_id", "resolved_at", name="uq_ticket_feedback_cycle"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_ticket_feedback_client_created", "client_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), nullable=False, index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), nullable=False)
    rating: Mapped[int] = mapped_column(Integer, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)


# Token buckets every replica shares (aftercare_shared.rate_limit).
RATE_BUCKETS = rate_buckets_table(Base.metadata)
