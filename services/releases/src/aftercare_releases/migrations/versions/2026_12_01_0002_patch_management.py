"""Patch management: products, SemVer keys and the release lifecycle, deployments, SBOMs,
advisories and exposures; change types on release items, ticket kinds in the read model.

Revision ID: 2026_12_01_0002
Revises: 2026_11_27_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "2026_12_01_0002"
down_revision: str | None = "2026_11_27_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.RELEASES)
# Frozen here: this revision creates these constraints whatever the code says later.
OLD_STATUSES = ("draft", "published")
RELEASE_STATUSES = ("draft", "scheduled", "published", "cancelled", "rolled_back")
CHANGE_TYPES = ("added", "changed", "deprecated", "removed", "fixed", "security", "performance")
DEPLOYMENT_STATUSES = ("in_progress", "succeeded", "failed", "rolled_back")
EXPOSURE_STATUSES = ("affected", "patched")


_releases = sa.table(
    "releases",
    sa.column("id", sa.Text),
    sa.column("product", sa.Text),
    sa.column("version", sa.Text),
    sa.column("version_key", sa.Text),
    sa.column("status", sa.Text),
    sa.column("publish_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    schema=SCHEMA,
)
_products = sa.table(
    "products",
    sa.column("name", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
    schema=SCHEMA,
)


def _version_keys() -> None:
    """Give existing releases their SemVer key; versions that are not SemVer keep none."""
    from aftercare_releases.versions import parse_version

    bind = op.get_bind()
    rows = bind.execute(sa.select(_releases.c.id, _releases.c.version)).all()
    for release_id, version in rows:
        try:
            key = parse_version(version).key
        except ValueError:
            continue
        bind.execute(
            sa.update(_releases).where(_releases.c.id == release_id).values(version_key=key)
        )
    # Products named by existing releases become registered products.
    bind.execute(
        sa.insert(_products).from_select(
            ["name", "created_at"],
            sa.select(_releases.c.product, sa.func.min(_releases.c.created_at)).group_by(
                _releases.c.product
            ),
        )
    )


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("ecosystem", sa.Text, nullable=True),
        sa.Column("repository_url", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_products"),
        schema=SCHEMA,
    )
    op.add_column("releases", sa.Column("version_key", sa.Text(collation="C")), schema=SCHEMA)
    for name in ("publish_at", "cancelled_at", "rolled_back_at"):
        op.add_column("releases", sa.Column(name, sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("releases", sa.Column("rollback_reason", sa.Text), schema=SCHEMA)
    # The first revision's check constraints carry the naming convention's prefix twice.
    op.drop_constraint(op.f("ck_releases_ck_releases_status_known"), "releases", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_releases_status_known"),
        "releases",
        sql_one_of("status", RELEASE_STATUSES),
        schema=SCHEMA,
    )
    op.drop_constraint(
        op.f("ck_releases_ck_releases_published_at_iff_published"), "releases", schema=SCHEMA
    )
    op.create_check_constraint(
        op.f("ck_releases_published_at_iff_published"),
        "releases",
        "(status IN ('published', 'rolled_back')) = (published_at IS NOT NULL)",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_releases_publish_at_iff_scheduled"),
        "releases",
        "(status = 'scheduled') = (publish_at IS NOT NULL)",
        schema=SCHEMA,
    )
    _version_keys()
    op.create_index(
        "uq_releases_product_version_key",
        "releases",
        ["product", "version_key"],
        unique=True,
        schema=SCHEMA,
    )
    op.create_index(
        "ix_releases_due",
        "releases",
        ["publish_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.add_column("release_items", sa.Column("change_type", sa.Text), schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_release_items_change_type_known"),
        "release_items",
        "change_type IS NULL OR " + sql_one_of("change_type", CHANGE_TYPES),
        schema=SCHEMA,
    )
    op.add_column("ticket_views", sa.Column("kind", sa.Text), schema=SCHEMA)

    op.create_table(
        "deployments",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("version_key", sa.Text(collation="C"), nullable=False),
        sa.Column("release_id", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sbom_uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sbom_format", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.ForeignKeyConstraint(
            ["product"], [f"{SCHEMA}.products.name"], name="fk_deployments_product_products"
        ),
        sa.CheckConstraint(
            sql_one_of("status", DEPLOYMENT_STATUSES), name="ck_deployments_status_known"
        ),
        sa.CheckConstraint(
            "(status IN ('succeeded', 'rolled_back')) = (succeeded_at IS NOT NULL)",
            name="ck_deployments_succeeded_at_iff_succeeded",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deployments_current",
        "deployments",
        ["client_id", "environment", "product", "succeeded_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'succeeded'"),
    )
    op.create_index(
        "ix_deployments_product_current",
        "deployments",
        ["product"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'succeeded'"),
    )
    op.create_table(
        "sbom_components",
        sa.Column("deployment_id", sa.Text, nullable=False),
        sa.Column("purl", sa.Text, nullable=False),
        sa.Column("package", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("deployment_id", "purl", name="pk_sbom_components"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            [f"{SCHEMA}.deployments.id"],
            name="fk_sbom_components_deployment_id_deployments",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_sbom_components_package", "sbom_components", ["package"], schema=SCHEMA)
    op.create_table(
        "advisories",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("aliases", JSONB, nullable=False),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("severity", sa.Text, nullable=True),
        sa.Column("cvss_score", sa.Float, nullable=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_advisories"),
        schema=SCHEMA,
    )
    op.create_table(
        "advisory_packages",
        sa.Column("advisory_id", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("ecosystem", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("package", sa.Text, nullable=True),
        sa.Column("affected", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("advisory_id", "position", name="pk_advisory_packages"),
        sa.ForeignKeyConstraint(
            ["advisory_id"],
            [f"{SCHEMA}.advisories.id"],
            name="fk_advisory_packages_advisory_id_advisories",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_advisory_packages_package", "advisory_packages", ["package"], schema=SCHEMA)
    op.create_index("ix_advisory_packages_name", "advisory_packages", ["name"], schema=SCHEMA)
    op.create_table(
        "exposures",
        sa.Column("advisory_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("installed_version", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("patched_by_deployment_id", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint(
            "advisory_id", "client_id", "environment", "target", name="pk_exposures"
        ),
        sa.ForeignKeyConstraint(
            ["advisory_id"],
            [f"{SCHEMA}.advisories.id"],
            name="fk_exposures_advisory_id_advisories",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            sql_one_of("status", EXPOSURE_STATUSES), name="ck_exposures_status_known"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_exposures_client", "exposures", ["client_id", "status"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("exposures", schema=SCHEMA)
    op.drop_table("advisory_packages", schema=SCHEMA)
    op.drop_table("advisories", schema=SCHEMA)
    op.drop_table("sbom_components", schema=SCHEMA)
    op.drop_table("deployments", schema=SCHEMA)
    op.drop_column("ticket_views", "kind", schema=SCHEMA)
    op.drop_constraint(op.f("ck_release_items_change_type_known"), "release_items", schema=SCHEMA)
    op.drop_column("release_items", "change_type", schema=SCHEMA)
    op.drop_index("ix_releases_due", "releases", schema=SCHEMA)
    op.drop_index("uq_releases_product_version_key", "releases", schema=SCHEMA)
    # Releases the old schema cannot hold go back to what it knew: scheduled and
    # cancelled ones were drafts, rolled-back ones had been published.
    op.execute(
        sa.update(_releases)
        .where(_releases.c.status.in_(("scheduled", "cancelled", "rolled_back")))
        .values(
            status=sa.case((_releases.c.status == "rolled_back", "published"), else_="draft"),
            publish_at=None,
        )
    )
    op.drop_constraint(op.f("ck_releases_publish_at_iff_scheduled"), "releases", schema=SCHEMA)
    op.drop_constraint(op.f("ck_releases_published_at_iff_published"), "releases", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_releases_ck_releases_published_at_iff_published"),
        "releases",
        "(status = 'published') = (published_at IS NOT NULL)",
        schema=SCHEMA,
    )
    op.drop_constraint(op.f("ck_releases_status_known"), "releases", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_releases_ck_releases_status_known"),
        "releases",
        sql_one_of("status", OLD_STATUSES),
        schema=SCHEMA,
    )
    for name in ("rollback_reason", "rolled_back_at", "cancelled_at", "publish_at", "version_key"):
        op.drop_column("releases", name, schema=SCHEMA)
    op.drop_table("products", schema=SCHEMA)
