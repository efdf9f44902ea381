"""ORM models of the ``releases`` schema; the migrations in ``migrations/`` create them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare_releases.domain import RELEASE_STATUSES, ReleaseStatus
from aftercare_shared.client_keys import client_api_keys_table
from aftercare_shared.db import service_metadata
from aftercare_shared.events.catalog import RELEASE_KINDS, Priority, ReleaseKind, TicketStatus
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import inbox_table, outbox_table


class Base(DeclarativeBase):
    metadata = service_metadata(schema_of(ServiceName.RELEASES))


class Release(Base):
    """One version of one product, and whether the world has been told about it."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("product", "version"),
        CheckConstraint(sql_one_of("kind", RELEASE_KINDS), name="kind_known"),
        CheckConstraint(sql_one_of("status", RELEASE_STATUSES), name="status_known"),
        CheckConstraint(
            "(status = 'published') = (published_at IS NOT NULL)", name="published_at_iff_published"
        ),
        # Keyset pagination walks this index newest first.
        Index("ix_releases_created_at_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    product: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    kind: Mapped[ReleaseKind] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ReleaseStatus] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReleaseItem(Base):
    """A ticket a release fixes: one row each, so "which release fixed X" is an index probe."""

    __tablename__ = "release_items"
    __table_args__ = (Index("ix_release_items_ticket_id", "ticket_id"),)

    release_id: Mapped[str] = mapped_column(
        Text, ForeignKey("releases.releases.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    # Keeps the order the release manager listed the tickets in.
    position: Mapped[int] = mapped_column(Integer)


class TicketView(Base):
    """intake's tickets as this service knows them from ``aftercare.tickets`` events."""

    __tablename__ = "ticket_views"
    __table_args__ = (Index("ix_ticket_views_client_id", "client_id"),)

    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    # Only ticket.created carries the title; a lagging or lost one leaves it unknown.
    title: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[Priority | None] = mapped_column(Text)
    status: Mapped[TicketStatus] = mapped_column(Text)
    # Time of the event the status was taken from: older events never overwrite newer ones.
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
client_api_keys = client_api_keys_table(Base.metadata)
