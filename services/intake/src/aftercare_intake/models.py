"""ORM models of the intake schema: clients, projects, API keys, tickets and their
fingerprints, occurrence samples and tallies, history, comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare_intake.domain import (
    CLOSE_REASONS,
    HISTORY_ACTIONS,
    TALLY_DIMENSIONS,
    CloseReason,
    HistoryAction,
    TallyDimension,
)
from aftercare_shared.auth import API_KEY_SCOPES, ApiKeyScope
from aftercare_shared.db import service_metadata
from aftercare_shared.events.catalog import (
    RESOLUTION_TRIGGERS,
    STAFF_ROLES,
    CommentAuthorKind,
    Priority,
    ResolutionOn,
    Severity,
    StaffRole,
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
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[Severity] = mapped_column(Text, nullable=False)
    priority: Mapped[Priority] = mapped_column(Text, nullable=False)
    kind: Mapped[str | None] = mapped_column(Text)
    status: Mapped[TicketStatus] = mapped_column(Text, nullable=False)
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

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), nullable=False, index=True)
    author_kind: Mapped[CommentAuthorKind] = mapped_column(Text, nullable=False)
    author: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


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


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)


# Token buckets every replica shares (aftercare_shared.rate_limit).
RATE_BUCKETS = rate_buckets_table(Base.metadata)
