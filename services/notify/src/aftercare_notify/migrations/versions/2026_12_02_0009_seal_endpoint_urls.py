"""Endpoint URLs sealed at rest like the signing secrets (AES-256-GCM, AFTERCARE_SECRET_KEYS).

A Slack incoming-webhook URL is the credential that posts to a channel, and a webhook URL
may carry a token: both live in ``endpoints.url``, which stays text and now holds
``aead:v1:<key id>:…``. Rows written before this are sealed here with the keyring from the
environment (as in 0007); downgrading opens them again.

Revision ID: 0009_seal_endpoint_urls
Revises: 0008_digest_groups
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.secrets_at_rest import MARKER, Keyring

revision: str = "0009_seal_endpoint_urls"
down_revision: str | None = "0008_digest_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)


def _rewrite(*, sealed: bool, change: Callable[[Keyring, str], str]) -> None:
    """Apply ``change`` to the URLs that are (or are not) sealed yet."""
    connection = op.get_bind()
    condition = "LIKE" if sealed else "NOT LIKE"
    rows = connection.execute(
        sa.text(
            f"SELECT id, url FROM {SCHEMA}.endpoints "  # noqa: S608 - constant schema name
            f"WHERE url {condition} :marker"
        ),
        {"marker": MARKER + "%"},
    ).all()
    if not rows:
        return  # a fresh database, or nothing to do: no key needed
    keyring = Keyring.from_environment()
    for endpoint_id, url in rows:
        connection.execute(
            sa.text(f"UPDATE {SCHEMA}.endpoints SET url = :url WHERE id = :id"),  # noqa: S608 - constant schema name
            {"id": endpoint_id, "url": change(keyring, url)},
        )


def upgrade() -> None:
    _rewrite(sealed=False, change=lambda keyring, value: keyring.encrypt(value))


def downgrade() -> None:
    _rewrite(sealed=True, change=lambda keyring, value: keyring.decrypt(value))
