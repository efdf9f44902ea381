"""The support desk: a closed set of ticket kinds, assignees, internal comments, full-text
search, the "SLA due" sort and the auto-close timer's index.

Existing free-text kinds map as new filings do (``domain.ticket_kind``): a kind of the
closed set stays, anything else (a Sentry exception type, a report's own word, none)
becomes ``bug``.

Revision ID: 0004_support_desk
Revises: 0003_resolution_on_deploy
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from aftercare_intake.domain import HISTORY_ACTIONS
from aftercare_shared.events.catalog import COMMENT_VISIBILITIES, TICKET_KINDS
from aftercare_shared.names import ServiceName, schema_of, sql_one_of

revision: str = "0004_support_desk"
down_revision: str | None = "0003_resolution_on_deploy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)
NEW_HISTORY_ACTIONS = ("assigned",)
# As models.TICKET_SEARCH_EXPRESSION / COMMENT_SEARCH_EXPRESSION were at this revision.
TICKET_SEARCH_EXPRESSION = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')"
)
COMMENT_SEARCH_EXPRESSION = "to_tsvector('english'::regconfig, body)"
SLA_DUE_SORT_SQL = "coalesce(sla_due_at, '9999-12-31 00:00:00+00'::timestamptz)"


def _history_check(actions: Sequence[str]) -> None:
    op.drop_constraint(
        op.f("ck_ticket_history_action"), "ticket_history", type_="check", schema=SCHEMA
    )
    op.create_check_constraint(
        op.f("ck_ticket_history_action"),
        "ticket_history",
        sql_one_of("action", actions),
        schema=SCHEMA,
    )


def upgrade() -> None:
    known = ", ".join(f"'{kind}'" for kind in TICKET_KINDS)
    op.execute(
        f"UPDATE {SCHEMA}.tickets SET kind = 'bug' "  # noqa: S608 - constants only
        f"WHERE kind IS NULL OR kind NOT IN ({known})"
    )
    op.alter_column("tickets", "kind", nullable=False, server_default="bug", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_tickets_kind"), "tickets", sql_one_of("kind", TICKET_KINDS), schema=SCHEMA
    )
    op.add_column("tickets", sa.Column("assignee", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column("tickets", sa.Column("sla_due_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.execute(
        f"""
        UPDATE {SCHEMA}.tickets SET sla_due_at = (
            SELECT min((clock.value ->> 'due_at')::timestamptz)
            FROM jsonb_each(sla_status) AS clock
            WHERE clock.value ->> 'state' IN ('running', 'at_risk', 'breached')
        )
        WHERE sla_status <> '{{}}'::jsonb
        """  # noqa: S608 - constants only
    )
    op.add_column(
        "tickets",
        sa.Column("search", TSVECTOR, sa.Computed(TICKET_SEARCH_EXPRESSION, persisted=True)),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_tickets_updated"), "tickets", ["updated_at", "id"], schema=SCHEMA)
    op.create_index(
        op.f("ix_tickets_priority_created"),
        "tickets",
        ["priority", "created_at", "id"],
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_tickets_sla_due"),
        "tickets",
        [sa.text(SLA_DUE_SORT_SQL), "created_at", "id"],
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_tickets_assignee"), "tickets", ["assignee"], schema=SCHEMA)
    op.create_index(
        op.f("ix_tickets_search"), "tickets", ["search"], postgresql_using="gin", schema=SCHEMA
    )
    op.create_index(
        op.f("ix_tickets_resolved_due"),
        "tickets",
        ["resolved_at"],
        postgresql_where=sa.text("status = 'resolved'"),
        schema=SCHEMA,
    )

    op.add_column(
        "comments",
        sa.Column("visibility", sa.Text, nullable=False, server_default="public"),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_comments_visibility"),
        "comments",
        sql_one_of("visibility", COMMENT_VISIBILITIES),
        schema=SCHEMA,
    )
    op.add_column(
        "comments",
        sa.Column("search", TSVECTOR, sa.Computed(COMMENT_SEARCH_EXPRESSION, persisted=True)),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_comments_search"), "comments", ["search"], postgresql_using="gin", schema=SCHEMA
    )
    _history_check(HISTORY_ACTIONS)


def downgrade() -> None:
    op.execute(
        f"DELETE FROM {SCHEMA}.ticket_history WHERE action IN ('assigned')"  # noqa: S608
    )
    _history_check([action for action in HISTORY_ACTIONS if action not in NEW_HISTORY_ACTIONS])
    op.drop_index(op.f("ix_comments_search"), "comments", schema=SCHEMA)
    op.drop_column("comments", "search", schema=SCHEMA)
    op.drop_constraint(op.f("ck_comments_visibility"), "comments", type_="check", schema=SCHEMA)
    op.drop_column("comments", "visibility", schema=SCHEMA)
    for index in (
        "ix_tickets_resolved_due",
        "ix_tickets_search",
        "ix_tickets_assignee",
        "ix_tickets_sla_due",
        "ix_tickets_priority_created",
        "ix_tickets_updated",
    ):
        op.drop_index(op.f(index), "tickets", schema=SCHEMA)
    op.drop_column("tickets", "search", schema=SCHEMA)
    op.drop_column("tickets", "sla_due_at", schema=SCHEMA)
    op.drop_column("tickets", "assignee", schema=SCHEMA)
    op.drop_constraint(op.f("ck_tickets_kind"), "tickets", type_="check", schema=SCHEMA)
    op.alter_column("tickets", "kind", nullable=True, server_default=None, schema=SCHEMA)
