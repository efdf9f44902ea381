"""A local read model of client API keys, kept from ``aftercare.clients`` events.

intake owns the keys; sla, releases and notify verify them from this copy so a client
system can call them with the same key and no service reads another's tables.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth import ResolvedApiKey
from aftercare_shared.auth.authenticator import ApiKeyLookup
from aftercare_shared.clock import utc_now
from aftercare_shared.consumer.handlers import EventHandlers
from aftercare_shared.events.catalog import ClientApiKeyIssued, ClientApiKeyRevoked

TABLE_NAME = "client_api_keys"


def client_api_keys_table(metadata: MetaData) -> Table:
    return Table(
        TABLE_NAME,
        metadata,
        sa.Column("api_key_id", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )


def create_client_api_keys_table(schema: str) -> None:
    from alembic import op  # migrations only: the running service never loads alembic

    op.create_table(
        TABLE_NAME,
        sa.Column("api_key_id", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("api_key_id", name=f"pk_{TABLE_NAME}"),
        sa.UniqueConstraint("key_hash", name=f"uq_{TABLE_NAME}_key_hash"),
        schema=schema,
    )


def drop_client_api_keys_table(schema: str) -> None:
    from alembic import op  # migrations only: the running service never loads alembic

    op.drop_table(TABLE_NAME, schema=schema)


def add_client_api_key_expiry(schema: str) -> None:
    """Migration step (after the table exists): keys may carry an expiry."""
    from alembic import op  # migrations only: the running service never loads alembic

    op.add_column(
        TABLE_NAME,
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )


def drop_client_api_key_expiry(schema: str) -> None:
    from alembic import op  # migrations only: the running service never loads alembic

    op.drop_column(TABLE_NAME, "expires_at", schema=schema)


def client_key_handlers(table: Table) -> EventHandlers:
    """Handlers keeping ``table`` (this service's copy of the keys) in step with intake."""
    handlers = EventHandlers()

    @handlers.on(ClientApiKeyIssued)
    async def key_issued(session: AsyncSession, issued: ClientApiKeyIssued) -> None:
        await session.execute(
            sa.dialects.postgresql.insert(table)
            .values(
                api_key_id=issued.api_key_id,
                client_id=issued.client_id,
                key_hash=issued.key_hash,
                expires_at=issued.expires_at,
            )
            .on_conflict_do_nothing(index_elements=["api_key_id"])
        )

    @handlers.on(ClientApiKeyRevoked)
    async def key_revoked(session: AsyncSession, revoked: ClientApiKeyRevoked) -> None:
        await _mark_revoked(session, table, revoked.api_key_id, revoked.revoked_at)

    return handlers


async def _mark_revoked(
    session: AsyncSession, table: Table, api_key_id: str, revoked_at: datetime
) -> None:
    await session.execute(
        sa.update(table)
        .where(table.c.api_key_id == api_key_id, table.c.revoked_at.is_(None))
        .values(revoked_at=revoked_at)
    )


def read_model_key_lookup(table: Table) -> ApiKeyLookup:
    async def lookup(session: AsyncSession, key_hash: str) -> ResolvedApiKey | None:
        row = (
            await session.execute(
                sa.select(table.c.api_key_id, table.c.client_id).where(
                    table.c.key_hash == key_hash,
                    table.c.revoked_at.is_(None),
                    sa.or_(table.c.expires_at.is_(None), table.c.expires_at > utc_now()),
                )
            )
        ).first()
        return None if row is None else ResolvedApiKey(api_key_id=row[0], client_id=row[1])

    return lookup
