"""ORM models of the ``releases`` schema; the migrations in ``migrations/`` create them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare_releases.deployments import DEPLOYMENT_STATUSES, DeploymentStatus
from aftercare_releases.domain import RELEASE_STATUSES, ReleaseStatus
from aftercare_releases.matching import EXPOSURE_STATUSES, ExposureStatus
from aftercare_shared.client_keys import client_api_keys_table
from aftercare_shared.db import service_metadata
from aftercare_shared.events.catalog import (
    CHANGE_TYPES,
    RELEASE_KINDS,
    ChangeType,
    Priority,
    ReleaseKind,
    TicketStatus,
)
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import inbox_table, outbox_table
from aftercare_shared.rate_limit import rate_buckets_table
from aftercare_shared.staff_token_registry import staff_token_copies_table


class Base(DeclarativeBase):
    metadata = service_metadata(schema_of(ServiceName.RELEASES))


# The byte-wise collation the SemVer precedence keys are built for (see versions.py).
VERSION_KEY_COLLATION = "C"


class Product(Base):
    """A product the agency maintains; releases and deployments name it."""

    __tablename__ = "products"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    ecosystem: Mapped[str | None] = mapped_column(Text)
    repository_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Release(Base):
    """One version of one product, and whether the world has been told about it."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("product", "version"),
        CheckConstraint(sql_one_of("kind", RELEASE_KINDS), name="kind_known"),
        CheckConstraint(sql_one_of("status", RELEASE_STATUSES), name="status_known"),
        CheckConstraint(
            "(status IN ('published', 'rolled_back')) = (published_at IS NOT NULL)",
            name="published_at_iff_published",
        ),
        CheckConstraint(
            "(status = 'scheduled') = (publish_at IS NOT NULL)", name="publish_at_iff_scheduled"
        ),
        Index("ix_releases_created_at_id", "created_at", "id"),
        # Lists page by (product, precedence, id); one release per precedence of a product.
        Index("uq_releases_product_version_key", "product", "version_key", unique=True),
        # The scheduler's probe: only scheduled releases are in it.
        Index(
            "ix_releases_due",
            "publish_at",
            postgresql_where="status = 'scheduled'",
        ),
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
    # Null only for versions stored before versions had to be SemVer: they sort last.
    version_key: Mapped[str | None] = mapped_column(Text(collation=VERSION_KEY_COLLATION))
    publish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rollback_reason: Mapped[str | None] = mapped_column(Text)


class ReleaseItem(Base):
    """A ticket a release fixes: one row each, so "which release fixed X" is an index probe."""

    __tablename__ = "release_items"
    __table_args__ = (
        Index("ix_release_items_ticket_id", "ticket_id"),
        CheckConstraint(
            "change_type IS NULL OR " + sql_one_of("change_type", CHANGE_TYPES),
            name="change_type_known",
        ),
    )

    release_id: Mapped[str] = mapped_column(
        Text, ForeignKey("releases.releases.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    # Keeps the order the release manager listed the tickets in.
    position: Mapped[int] = mapped_column(Integer)
    # Null: the section follows the ticket's kind (bug → fixed…) when the changelog is read.
    change_type: Mapped[ChangeType | None] = mapped_column(Text)


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
    kind: Mapped[str | None] = mapped_column(Text)


class Deployment(Base):
    """A version of a product sent to one environment of one client, and how it went."""

    __tablename__ = "deployments"
    __table_args__ = (
        CheckConstraint(sql_one_of("status", DEPLOYMENT_STATUSES), name="status_known"),
        CheckConstraint(
            "(status IN ('succeeded', 'rolled_back')) = (succeeded_at IS NOT NULL)",
            name="succeeded_at_iff_succeeded",
        ),
        # What a client runs: the latest succeeded deployment per environment and product.
        Index(
            "ix_deployments_current",
            "client_id",
            "environment",
            "product",
            "succeeded_at",
            postgresql_where="status = 'succeeded'",
        ),
        Index("ix_deployments_product_current", "product", postgresql_where="status = 'succeeded'"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    environment: Mapped[str] = mapped_column(Text)
    product: Mapped[str] = mapped_column(Text, ForeignKey("releases.products.name"))
    version: Mapped[str] = mapped_column(Text)
    version_key: Mapped[str] = mapped_column(Text(collation=VERSION_KEY_COLLATION))
    release_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DeploymentStatus] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sbom_uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sbom_format: Mapped[str | None] = mapped_column(Text)


class SbomComponent(Base):
    """One component of a deployment's SBOM, kept by Package URL."""

    __tablename__ = "sbom_components"
    __table_args__ = (Index("ix_sbom_components_package", "package"),)

    deployment_id: Mapped[str] = mapped_column(
        Text, ForeignKey("releases.deployments.id", ondelete="CASCADE"), primary_key=True
    )
    purl: Mapped[str] = mapped_column(Text, primary_key=True)
    # "<purl type>/<namespace>/<name>", normalised: what an advisory's package is matched on.
    package: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)


class Advisory(Base):
    """A security advisory in the OSV schema, as published here."""

    __tablename__ = "advisories"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    aliases: Mapped[list[str]] = mapped_column(JSONB)
    summary: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(Text)
    cvss_score: Mapped[float | None] = mapped_column(Float)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    modified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AdvisoryPackage(Base):
    """One ``affected`` entry of an advisory, indexed by what it is matched on."""

    __tablename__ = "advisory_packages"
    __table_args__ = (
        Index("ix_advisory_packages_package", "package"),
        Index("ix_advisory_packages_name", "name"),
    )

    advisory_id: Mapped[str] = mapped_column(
        Text, ForeignKey("releases.advisories.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    ecosystem: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    package: Mapped[str | None] = mapped_column(Text)
    affected: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Exposure(Base):
    """Whether one environment of one client runs what an advisory affects, or did."""

    __tablename__ = "exposures"
    __table_args__ = (
        CheckConstraint(sql_one_of("status", EXPOSURE_STATUSES), name="status_known"),
        Index("ix_exposures_client", "client_id", "status"),
    )

    advisory_id: Mapped[str] = mapped_column(
        Text, ForeignKey("releases.advisories.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    environment: Mapped[str] = mapped_column(Text, primary_key=True)
    # "product:<name>" or the component's purl without version.
    target: Mapped[str] = mapped_column(Text, primary_key=True)
    installed_version: Mapped[str] = mapped_column(Text)
    status: Mapped[ExposureStatus] = mapped_column(Text)
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    patched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    patched_by_deployment_id: Mapped[str | None] = mapped_column(Text)


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
client_api_keys = client_api_keys_table(Base.metadata)
staff_token_copies = staff_token_copies_table(Base.metadata)
rate_buckets = rate_buckets_table(Base.metadata)
