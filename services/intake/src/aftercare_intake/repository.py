"""Data access for intake. Functions here read and write; they never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, delete, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from aftercare_intake.domain import OPEN_STATUSES
from aftercare_intake.models import (
    OPEN_FINGERPRINT_PREDICATE,
    ApiKey,
    Client,
    Comment,
    IdempotencyRecord,
    Ticket,
)
from aftercare_shared.auth import ResolvedApiKey
from aftercare_shared.events.catalog import Priority, TicketStatus
from aftercare_shared.pagination import CursorPosition, after_position

RowT = TypeVar("RowT", Client, ApiKey, Ticket, Comment)


@dataclass(frozen=True, slots=True)
class UpsertedTicket:
    ticket_id: str
    status: TicketStatus
    priority: Priority
    occurrences: int
    created: bool


async def resolve_api_key(session: AsyncSession, key_hash: str) -> ResolvedApiKey | None:
    row = (
        await session.execute(
            select(ApiKey.id, ApiKey.client_id).where(
                ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
            )
        )
    ).first()
    return None if row is None else ResolvedApiKey(api_key_id=row[0], client_id=row[1])


REPORT_COLUMNS = (
    "id",
    "client_id",
    "title",
    "description",
    "severity",
    "priority",
    "kind",
    "status",
    "fingerprint",
    "environment",
    "release",
    "stacktrace",
    "context",
    "occurrences",
    "first_seen_at",
    "last_seen_at",
    "created_at",
    "updated_at",
)


@cache
def _report_upsert() -> ReturningInsert[Any]:
    """Built once: constructing this statement per request cost more than executing it."""
    table = cast(Table, Ticket.__table__)
    seen_at = bindparam("seen_at", type_=table.c.last_seen_at.type)
    return (
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in REPORT_COLUMNS})
        .on_conflict_do_update(
            index_elements=[table.c.client_id, table.c.fingerprint],
            # A literal predicate: Postgres must match it to the partial index at parse time.
            index_where=text(OPEN_FINGERPRINT_PREDICATE),
            set_={
                "occurrences": table.c.occurrences + 1,
                "last_seen_at": seen_at,
                "updated_at": seen_at,
            },
        )
        .returning(
            table.c.id,
            table.c.status,
            table.c.priority,
            table.c.occurrences,
            # xmax is 0 only for a freshly inserted row version: tells insert from update.
            literal_column("xmax = 0").label("created"),
        )
    )


async def upsert_ticket_for_report(
    session: AsyncSession, *, values: dict[str, Any], now: datetime
) -> UpsertedTicket:
    """Insert a ticket, or count one more occurrence on the open ticket of the same fingerprint.

    One statement, so concurrent identical reports never create two tickets nor lose a
    count: Postgres serialises them on the partial unique index.
    """
    row = (await session.execute(_report_upsert(), {**values, "seen_at": now})).one()
    return UpsertedTicket(
        ticket_id=row.id,
        status=row.status,
        priority=row.priority,
        occurrences=row.occurrences,
        created=bool(row.created),
    )


async def claim_idempotency_key(
    session: AsyncSession,
    *,
    client_id: str,
    key: str,
    request_hash: str,
    expired_before: datetime,
) -> IdempotencyRecord | None:
    """Reserve ``key`` for this request; returns the earlier record when it was taken.

    A concurrent request with the same key blocks on the insert until the first commits,
    then sees its stored answer: one ticket, two identical responses. A record older than
    the retention window no longer counts: the key may be used afresh.
    """
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < expired_before,
        )
    )
    inserted = (
        await session.execute(
            insert(IdempotencyRecord)
            .values(client_id=client_id, key=key, request_hash=request_hash)
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key)
        )
    ).first()
    if inserted is not None:
        return None
    return await session.get(IdempotencyRecord, (client_id, key))


async def purge_idempotency_records(session: AsyncSession, *, expired_before: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < expired_before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def store_idempotent_response(
    session: AsyncSession, *, client_id: str, key: str, status: int, body: dict[str, Any]
) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
        .values(response_status=status, response_body=body)
    )


async def _page(
    session: AsyncSession,
    statement: Select[RowT],
    model: type[RowT],
    *,
    after: CursorPosition | None,
    limit: int,
    descending: bool,
) -> list[RowT]:
    """Up to ``limit`` rows strictly after ``after`` in (created_at, id) order: a keyset page."""
    key = (model.created_at.expression, model.id.expression)
    position = after_position(key, after, descending=descending)
    if position is not None:
        statement = statement.where(position)
    order = [column.desc() for column in key] if descending else list(key)
    return list((await session.scalars(statement.order_by(*order).limit(limit))).all())


async def list_clients(
    session: AsyncSession, *, after: CursorPosition | None, limit: int
) -> list[Client]:
    """Oldest first."""
    return await _page(session, select(Client), Client, after=after, limit=limit, descending=False)


async def list_api_keys(
    session: AsyncSession, *, client_id: str, after: CursorPosition | None, limit: int
) -> list[ApiKey]:
    """The client's keys, oldest first (revoked ones too: staff see the whole history)."""
    statement = select(ApiKey).where(ApiKey.client_id == client_id)
    return await _page(session, statement, ApiKey, after=after, limit=limit, descending=False)


async def list_tickets(
    session: AsyncSession,
    *,
    client_id: str | None,
    status: TicketStatus | None,
    priority: Priority | None,
    after: CursorPosition | None,
    limit: int,
) -> list[Ticket]:
    """Newest first; the (created_at, id) indexes serve the keyset order."""
    statement = select(Ticket)
    if client_id is not None:
        statement = statement.where(Ticket.client_id == client_id)
    if status is not None:
        statement = statement.where(Ticket.status == status)
    if priority is not None:
        statement = statement.where(Ticket.priority == priority)
    return await _page(session, statement, Ticket, after=after, limit=limit, descending=True)


async def list_comments(
    session: AsyncSession, *, ticket_id: str, after: CursorPosition | None, limit: int
) -> list[Comment]:
    """A ticket's conversation, oldest first."""
    statement = select(Comment).where(Comment.ticket_id == ticket_id)
    return await _page(session, statement, Comment, after=after, limit=limit, descending=False)


async def lock_open_tickets(session: AsyncSession, ticket_ids: list[str]) -> list[Ticket]:
    statement = (
        select(Ticket)
        .where(Ticket.id.in_(ticket_ids), Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id)  # a fixed lock order: two releases never deadlock
        .with_for_update()
    )
    return list((await session.scalars(statement)).all())
