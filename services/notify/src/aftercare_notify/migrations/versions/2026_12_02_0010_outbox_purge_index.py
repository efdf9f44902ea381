"""The index the outbox purge reads: published rows by age (``AFTERCARE_OUTBOX_RETENTION_SECONDS``).

Revision ID: 0010_outbox_purge_index
Revises: 0009_seal_endpoint_urls
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.outbox import create_outbox_purge_index, drop_outbox_purge_index

revision: str = "0010_outbox_purge_index"
down_revision: str | None = "0009_seal_endpoint_urls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)


def upgrade() -> None:
    create_outbox_purge_index(SCHEMA)


def downgrade() -> None:
    drop_outbox_purge_index(SCHEMA)
