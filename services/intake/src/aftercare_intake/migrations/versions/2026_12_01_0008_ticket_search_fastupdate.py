"""The tickets' full-text index writes its entries at once (``fastupdate = off``).

Every further miss of a monitor (and every further occurrence of an error) updates its
ticket's counts and ``updated_at``; ``updated_at`` is indexed, so the update is never HOT
and each one adds the ticket's search entries to the GIN index again. With GIN's default
``fastupdate`` those entries pile up in the index's pending list, and the write that finds
the list over ``gin_pending_list_limit`` (4 MB) moves the whole list into the index itself,
synchronously: with 10,000 failing one-minute monitors that is one deadline round every
few minutes waiting for it, a tail in detection lag. Without the pending list
each write pays its own small share, so no write waits for the others' (what PostgreSQL's
GIN documentation recommends when steady response time matters more than update speed).

Revision ID: 0008_ticket_search_fastupdate
Revises: 0007_staff_token_revocation
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from aftercare_shared.names import ServiceName, schema_of

revision: str = "0008_ticket_search_fastupdate"
down_revision: str | None = "0007_staff_token_revocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.INTAKE)
INDEX = f"{SCHEMA}.ix_tickets_search"


def upgrade() -> None:
    op.execute(f"ALTER INDEX {INDEX} SET (fastupdate = off)")
    # Entries already pending stay there until moved: move them now, not on a later write.
    op.execute(f"SELECT gin_clean_pending_list('{INDEX}'::regclass)")


def downgrade() -> None:
    op.execute(f"ALTER INDEX {INDEX} RESET (fastupdate)")
