"""Staff token revocation (the read model of staff tokens), client key expiry, and the
token buckets every replica shares (rate limits across replicas).

Revision ID: 0004_staff_token_revocation
Revises: 2026_12_01_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from aftercare_shared.client_keys import add_client_api_key_expiry, drop_client_api_key_expiry
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.rate_limit import create_rate_buckets_table, drop_rate_buckets_table
from aftercare_shared.staff_token_registry import (
    create_staff_token_copies_table,
    drop_staff_token_copies_table,
)

revision: str = "0004_staff_token_revocation"
down_revision: str | None = "2026_12_01_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.RELEASES)


def upgrade() -> None:
    add_client_api_key_expiry(SCHEMA)
    create_staff_token_copies_table(SCHEMA)
    create_rate_buckets_table(SCHEMA)


def downgrade() -> None:
    drop_rate_buckets_table(SCHEMA)
    drop_staff_token_copies_table(SCHEMA)
    drop_client_api_key_expiry(SCHEMA)
