"""Sentry ingest and grouping: projects, key scopes and DSN keys, fingerprint routes,
occurrence samples and tallies, coalesced announcements, merges, fixes and history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aftercare_intake.domain import (
    CLOSE_REASONS,
    HISTORY_ACTIONS,
    OPEN_STATUSES,
    TALLY_DIMENSIONS,
)
from aftercare_shared.auth import API_KEY_SCOPES
from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)
OPEN = sql_one_of("status", OPEN_STATUSES)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _keys_and_projects()
    _ticket_columns()
    _fingerprint_routes()
    _occurrence_details()
    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        _timestamp("created_at"),
        sa.CheckConstraint(
            sql_one_of("action", HISTORY_ACTIONS), name=op.f("ck_ticket_history_action")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            [f"{SCHEMA}.tickets.id"],
            name=op.f("fk_ticket_history_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_history")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_ticket_history_ticket_created"),
        "ticket_history",
        ["ticket_id", "created_at", "id"],
        schema=SCHEMA,
    )


def _keys_and_projects() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "allowed_origins",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["client_id"], [f"{SCHEMA}.clients.id"], name=op.f("fk_projects_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_projects_client_created"),
        "projects",
        ["client_id", "created_at", "id"],
        schema=SCHEMA,
    )
    op.add_column(
        "api_keys",
        sa.Column("scope", sa.Text(), server_default="client", nullable=False),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_api_keys_scope"), "api_keys", sql_one_of("scope", API_KEY_SCOPES), schema=SCHEMA
    )
    op.add_column("api_keys", sa.Column("public_key", sa.Text(), nullable=True), schema=SCHEMA)
    # Keys issued before DSNs existed get a public key too: 32 hex digits, as new ones.
    op.execute(
        f"UPDATE {SCHEMA}.api_keys "  # noqa: S608 - formats in constants only
        "SET public_key = md5(random()::text || id || clock_timestamp())"
    )
    op.alter_column("api_keys", "public_key", nullable=False, schema=SCHEMA)
    op.create_unique_constraint(
        op.f("uq_api_keys_public_key"), "api_keys", ["public_key"], schema=SCHEMA
    )


def _ticket_columns() -> None:
    # Fingerprint routes take over grouping: several tickets may now share a fingerprint
    # (a merged one, a split one), and a fixed ticket is found again when its bug recurs.
    op.drop_index(
        "uq_tickets_open_fingerprint",
        table_name=op.f("tickets"),
        schema=SCHEMA,
        postgresql_where=sa.text(OPEN),
    )
    for column in (
        sa.Column("platform", sa.Text(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("merged_into_ticket_id", sa.Text(), nullable=True),
        sa.Column("fixed_in_release_id", sa.Text(), nullable=True),
        sa.Column("fixed_in_product", sa.Text(), nullable=True),
        sa.Column("fixed_in_version", sa.Text(), nullable=True),
        _timestamp("regressed_at", nullable=True),
        sa.Column("regression_release", sa.Text(), nullable=True),
        sa.Column("occurrences_announced", sa.Integer(), server_default="1", nullable=False),
        _timestamp("occurrence_announced_at", nullable=True),
    ):
        op.add_column("tickets", column, schema=SCHEMA)
    # What existed was announced as it was: nothing of it is owed to subscribers.
    op.execute(
        f"UPDATE {SCHEMA}.tickets "  # noqa: S608 - formats in constants only
        "SET occurrences_announced = occurrences, occurrence_announced_at = last_seen_at"
    )
    op.alter_column("tickets", "occurrence_announced_at", nullable=False, schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_tickets_close_reason"),
        "tickets",
        sql_one_of("close_reason", CLOSE_REASONS),
        schema=SCHEMA,
    )
    op.create_foreign_key(
        op.f("fk_tickets_merged_into_ticket_id_tickets"),
        "tickets",
        "tickets",
        ["merged_into_ticket_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )


def _fingerprint_routes() -> None:
    op.create_table(
        "ticket_fingerprints",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("origin_ticket_id", sa.Text(), nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
        _timestamp("first_seen_at"),
        _timestamp("last_seen_at"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            [f"{SCHEMA}.tickets.id"],
            name=op.f("fk_ticket_fingerprints_ticket_id_tickets"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_fingerprints")),
        sa.UniqueConstraint(
            "client_id", "fingerprint", name=op.f("uq_ticket_fingerprints_client_id_fingerprint")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_ticket_fingerprints_ticket_id"),
        "ticket_fingerprints",
        ["ticket_id"],
        schema=SCHEMA,
    )
    # Each fingerprint routes to its open ticket, else to its latest one (which then
    # reopens as a regression when the bug comes back, instead of a fresh ticket).
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.ticket_fingerprints
            (client_id, fingerprint, ticket_id, origin_ticket_id, occurrences,
             first_seen_at, last_seen_at)
        SELECT DISTINCT ON (client_id, fingerprint)
            client_id, fingerprint, id, id, occurrences, first_seen_at, last_seen_at
        FROM {SCHEMA}.tickets
        ORDER BY client_id, fingerprint, ({OPEN}) DESC, created_at DESC, id DESC
        """  # noqa: S608 - formats in constants only
    )


def _occurrence_details() -> None:
    op.create_table(
        "occurrence_samples",
        sa.Column("fingerprint_id", sa.BigInteger(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("project_id", sa.BigInteger(), nullable=True),
        _timestamp("created_at"),
        _timestamp("occurred_at", nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=True),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("release", sa.Text(), nullable=True),
        sa.Column("server_name", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"],
            [f"{SCHEMA}.ticket_fingerprints.id"],
            name=op.f("fk_occurrence_samples_fingerprint_id_ticket_fingerprints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fingerprint_id", "slot", name=op.f("pk_occurrence_samples")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_occurrence_samples_page"),
        "occurrence_samples",
        ["fingerprint_id", "created_at", "id"],
        schema=SCHEMA,
    )
    op.create_table(
        "fingerprint_tallies",
        sa.Column("fingerprint_id", sa.BigInteger(), nullable=False),
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
        _timestamp("first_seen_at"),
        _timestamp("last_seen_at"),
        sa.CheckConstraint(
            sql_one_of("dimension", TALLY_DIMENSIONS), name=op.f("ck_fingerprint_tallies_dimension")
        ),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"],
            [f"{SCHEMA}.ticket_fingerprints.id"],
            name=op.f("fk_fingerprint_tallies_fingerprint_id_ticket_fingerprints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "fingerprint_id", "dimension", "value", name=op.f("pk_fingerprint_tallies")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "occurrence_backlog",
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            [f"{SCHEMA}.tickets.id"],
            name=op.f("fk_occurrence_backlog_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_occurrence_backlog")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_ticket_history_ticket_created"), table_name=op.f("ticket_history"), schema=SCHEMA
    )
    op.drop_table("ticket_history", schema=SCHEMA)
    op.drop_table("occurrence_backlog", schema=SCHEMA)
    op.drop_table("fingerprint_tallies", schema=SCHEMA)
    op.drop_index(
        op.f("ix_occurrence_samples_page"), table_name=op.f("occurrence_samples"), schema=SCHEMA
    )
    op.drop_table("occurrence_samples", schema=SCHEMA)
    op.drop_index(
        op.f("ix_ticket_fingerprints_ticket_id"),
        table_name=op.f("ticket_fingerprints"),
        schema=SCHEMA,
    )
    op.drop_table("ticket_fingerprints", schema=SCHEMA)
    op.drop_constraint(
        op.f("fk_tickets_merged_into_ticket_id_tickets"),
        "tickets",
        type_="foreignkey",
        schema=SCHEMA,
    )
    op.drop_constraint(op.f("ck_tickets_close_reason"), "tickets", type_="check", schema=SCHEMA)
    for column in (
        "occurrence_announced_at",
        "occurrences_announced",
        "regression_release",
        "regressed_at",
        "fixed_in_version",
        "fixed_in_product",
        "fixed_in_release_id",
        "merged_into_ticket_id",
        "close_reason",
        "platform",
    ):
        op.drop_column("tickets", column, schema=SCHEMA)
    op.create_index(
        "uq_tickets_open_fingerprint",
        "tickets",
        ["client_id", "fingerprint"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text(OPEN),
    )
    op.drop_constraint(op.f("uq_api_keys_public_key"), "api_keys", type_="unique", schema=SCHEMA)
    op.drop_column("api_keys", "public_key", schema=SCHEMA)
    op.drop_constraint(op.f("ck_api_keys_scope"), "api_keys", type_="check", schema=SCHEMA)
    op.drop_column("api_keys", "scope", schema=SCHEMA)
    op.drop_index(op.f("ix_projects_client_created"), table_name=op.f("projects"), schema=SCHEMA)
    op.drop_table("projects", schema=SCHEMA)
