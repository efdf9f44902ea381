"""ORM models of the intake schema: clients, API keys, tickets, occurrences, comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare_intake.domain import OPEN_STATUSES
from aftercare_shared.db import service_metadata
from aftercare_shared.events.catalog import (
    RESOLUTION_TRIGGERS,
    CommentAuthorKind,
    Priority,
    ResolutionOn,
    Severity,
    TicketStatus,
)
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import inbox_table, outbox_table

SCHEMA = schema_of(ServiceName.INTAKE)

# At most one open ticket per client and fingerprint: the partial unique index's predicate,
# which the dedup upsert names too so Postgres can infer that index as its conflict target.
OPEN_FINGERPRINT_PREDICATE = sql_one_of("status", OPEN_STATUSES)


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), nullable=False, index=True)
    name: Mapped[str | None] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # At most one open ticket per fingerprint and client: the dedup upsert's target.
        Index(
            "uq_tickets_open_fingerprint",
            "client_id",
            "fingerprint",
            unique=True,
            postgresql_where=text(OPEN_FINGERPRINT_PREDICATE),
        ),
        Index("ix_tickets_client_created", "client_id", "created_at", "id"),
        Index("ix_tickets_created", "created_at", "id"),
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
