"""A local read model of staff tokens, kept from ``aftercare.clients`` events.

Staff tokens are signed, so every service verifies one by itself; what a signature cannot
say is whether the token was revoked since. intake owns the tokens and announces each one
(``staff.token_issued``) and each revocation (``staff.token_revoked``) on the clients topic,
the same path the client keys take; sla, releases and notify apply them to this table and
refuse a revoked token from that moment.

The read model answers "revoked?" only: a token minted a moment ago works on every service
before its ``staff.token_issued`` arrives, and a revocation that overtakes its issue still
takes (the revoke upserts the row).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import MetaData, Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth.authenticator import StaffTokenRevocationCheck
from aftercare_shared.consumer.handlers import EventHandlers
from aftercare_shared.events.catalog import STAFF_ROLES, StaffTokenIssued, StaffTokenRevoked
from aftercare_shared.names import sql_one_of

TABLE_NAME = "staff_token_copies"


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("token_id", sa.Text, nullable=False),
        # Unknown until the issue arrives when a revocation overtakes it.
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("role", sa.Text, nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    ]


def staff_token_copies_table(metadata: MetaData) -> Table:
    return Table(
        TABLE_NAME,
        metadata,
        *_columns(),
        sa.PrimaryKeyConstraint("token_id", name=f"pk_{TABLE_NAME}"),
        # Named through the service metadata's naming convention: ck_<table>_role.
        sa.CheckConstraint(sql_one_of("role", STAFF_ROLES), name="role"),
    )


def create_staff_token_copies_table(schema: str) -> None:
    from alembic import op  # migrations only: the running service never loads alembic

    op.create_table(
        TABLE_NAME,
        *_columns(),
        sa.PrimaryKeyConstraint("token_id", name=f"pk_{TABLE_NAME}"),
        sa.CheckConstraint(sql_one_of("role", STAFF_ROLES), name=op.f(f"ck_{TABLE_NAME}_role")),
        schema=schema,
    )


def drop_staff_token_copies_table(schema: str) -> None:
    from alembic import op  # migrations only: the running service never loads alembic

    op.drop_table(TABLE_NAME, schema=schema)


def staff_token_handlers(table: Table) -> EventHandlers:
    """Handlers keeping ``table`` (this service's copy) in step with intake's tokens."""
    handlers = EventHandlers()

    @handlers.on(StaffTokenIssued)
    async def token_issued(session: AsyncSession, issued: StaffTokenIssued) -> None:
        statement = insert(table).values(
            token_id=issued.token_id,
            subject=issued.subject,
            role=issued.role,
            expires_at=issued.expires_at,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["token_id"],
                set_={
                    "subject": issued.subject,
                    "role": issued.role,
                    "expires_at": issued.expires_at,
                },
            )
        )

    @handlers.on(StaffTokenRevoked)
    async def token_revoked(session: AsyncSession, revoked: StaffTokenRevoked) -> None:
        statement = insert(table).values(token_id=revoked.token_id, revoked_at=revoked.revoked_at)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["token_id"],
                set_={"revoked_at": sa.func.coalesce(table.c.revoked_at, revoked.revoked_at)},
            )
        )

    return handlers


def read_model_staff_token_check(table: Table) -> StaffTokenRevocationCheck:
    async def revoked(session: AsyncSession, token_id: str) -> bool:
        found = await session.scalar(
            sa.select(sa.literal(True)).where(
                table.c.token_id == token_id, table.c.revoked_at.is_not(None)
            )
        )
        return bool(found)

    return revoked
