"""Endpoint credentials under the active key: the re-encryption after a key rotation.

Stored signing secrets and endpoint URLs (a Slack incoming-webhook URL is a credential) are
:class:`~aftercare_shared.secrets_at_rest.EncryptedText`. After a new key is put first in
``AFTERCARE_SECRET_KEYS``, this job rewrites every endpoint whose secrets or URL are still
under an older key (or, from before encryption, in plain text), a batch at a
time; once it reports nothing left, the old key may be removed from the setting.
"""

from __future__ import annotations

import structlog
from sqlalchemy import ColumnElement, Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from aftercare_notify.models import Endpoint
from aftercare_shared.periodic import PeriodicJob
from aftercare_shared.secrets_at_rest import current_keyring

logger = structlog.get_logger(__name__)

REENCRYPTION_INTERVAL_SECONDS = 600.0
REENCRYPTION_BATCH_SIZE = 200


async def reencrypt_endpoint_secrets(
    session_factory: async_sessionmaker[AsyncSession], *, batch_size: int = REENCRYPTION_BATCH_SIZE
) -> int:
    """One batch of endpoints moved to the active key; how many."""
    keyring = current_keyring()
    # The raw column text: what the database holds, not the decrypted value.
    raw_secret = cast(Endpoint.__table__.c.secret, Text)
    raw_previous = cast(Endpoint.__table__.c.previous_secret, Text)
    raw_url = cast(Endpoint.__table__.c.url, Text)
    prefix = keyring.active_prefix

    def under_an_old_key(raw: ColumnElement[str]) -> ColumnElement[bool]:
        # Compared exactly (a LIKE pattern would read a key id's "_" as a wildcard).
        return func.left(raw, len(prefix)) != prefix

    stale = or_(
        under_an_old_key(raw_secret),
        raw_previous.is_not(None) & under_an_old_key(raw_previous),
        raw_url.is_not(None) & under_an_old_key(raw_url),
    )
    async with session_factory() as session:
        endpoints = (
            await session.scalars(
                select(Endpoint).where(stale).limit(batch_size).with_for_update(skip_locked=True)
            )
        ).all()
        for endpoint in endpoints:
            # Same plaintext, written again: the column type seals it under the active key.
            flag_modified(endpoint, "secret")
            flag_modified(endpoint, "previous_secret")
            flag_modified(endpoint, "url")
        await session.commit()
    if endpoints:
        logger.info("re-encrypted endpoint secrets and URLs", count=len(endpoints))
    return len(endpoints)


def secret_reencryption_job() -> PeriodicJob:
    async def reencrypt_round(session_factory: async_sessionmaker[AsyncSession]) -> int:
        return await reencrypt_endpoint_secrets(session_factory)

    return PeriodicJob(
        name="notify-secret-reencryption",
        interval_seconds=REENCRYPTION_INTERVAL_SECONDS,
        run=reencrypt_round,
        batch_size=REENCRYPTION_BATCH_SIZE,
    )
