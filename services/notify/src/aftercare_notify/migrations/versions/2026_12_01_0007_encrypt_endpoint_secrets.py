"""Endpoint signing secrets encrypted at rest (AES-256-GCM under AFTERCARE_SECRET_KEYS).

The columns stay text; the values become ``aead:v1:<key id>:…``. Rows written before this
are encrypted here, with the keyring from the environment (``AFTERCARE_SECRET_KEYS``, else
derived from ``AFTERCARE_ADMIN_TOKEN``, as the services do). Downgrading decrypts them.

Revision ID: 0007_encrypt_endpoint_secrets
Revises: 0006_staff_token_revocation
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.secrets_at_rest import MARKER, Keyring

revision: str = "0007_encrypt_endpoint_secrets"
down_revision: str | None = "0006_staff_token_revocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = schema_of(ServiceName.NOTIFY)


def _rewrite(*, sealed: bool, change: Callable[[Keyring, str], str]) -> None:
    """Apply ``change`` to the secrets that are (or are not) sealed yet."""
    connection = op.get_bind()
    condition = "LIKE" if sealed else "NOT LIKE"
    rows = connection.execute(
        sa.text(
            f"SELECT id, secret, previous_secret FROM {SCHEMA}.endpoints "  # noqa: S608 - constant schema name
            f"WHERE secret {condition} :marker OR previous_secret {condition} :marker"
        ),
        {"marker": MARKER + "%"},
    ).all()
    if not rows:
        return  # a fresh database, or nothing to do: no key needed
    keyring = Keyring.from_environment()

    def changed(value: str | None) -> str | None:
        if value is None or value.startswith(MARKER) != sealed:
            return value
        return change(keyring, value)

    for endpoint_id, secret, previous_secret in rows:
        connection.execute(
            sa.text(
                f"UPDATE {SCHEMA}.endpoints SET secret = :secret, "  # noqa: S608 - constant schema name
                "previous_secret = :previous WHERE id = :id"
            ),
            {"id": endpoint_id, "secret": changed(secret), "previous": changed(previous_secret)},
        )


def upgrade() -> None:
    _rewrite(sealed=False, change=lambda keyring, value: keyring.encrypt(value))


def downgrade() -> None:
    _rewrite(sealed=True, change=lambda keyring, value: keyring.decrypt(value))
