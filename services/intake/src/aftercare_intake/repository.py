"""Data access for intake. Functions here read and write; they never commit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.domain import OPEN_STATUSES, RESOLVED_STATUS
from aftercare_intake.models import (
    ApiKey,
    Client,
    Comment,
    FingerprintTally,
    IdempotencyRecord,
    OccurrenceSample,
    Project,
    StaffToken,
    Ticket,
    TicketFingerprint,
)
from aftercare_shared.auth import ApiKeyScope, ResolvedApiKey
from aftercare_shared.clock import utc_now
from aftercare_shared.pagination import CursorPosition, after_position

RowT = TypeVar("RowT", Client, ApiKey, Ticket, Comment, Project, StaffToken)

# Per ticket, the ticket view lists this many releases, environments and fingerprints
# (most recently seen first); the exact total is always the ticket's own count.
TICKET_VIEW_LIST_LIMIT = 100


def _key_is_live() -> ColumnElement[bool]:
    """Neither revoked nor past its expiry (by the one clock, so frozen tests agree)."""
    return and_(
        ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utc_now())
    )


async def staff_token_revoked(session: AsyncSession, token_id: str) -> bool:
    """intake mints the tokens: one it has no row for was never issued here, so it counts
    as revoked (the other services, which learn of tokens by events, refuse revoked only)."""
    revoked_at = await session.execute(
        select(StaffToken.revoked_at).where(StaffToken.id == token_id)
    )
    row = revoked_at.first()
    return row is None or row[0] is not None


async def list_staff_tokens(
    session: AsyncSession, *, after: CursorPosition | None, limit: int
) -> list[StaffToken]:
    """Every minted token, oldest first (revoked and expired ones too)."""
    return await _page(
        session, select(StaffToken), StaffToken, after=after, limit=limit, descending=False
    )


async def resolve_api_key(session: AsyncSession, key_hash: str) -> ResolvedApiKey | None:
    row = (
        await session.execute(
            select(ApiKey.id, ApiKey.client_id, ApiKey.scope).where(
                ApiKey.key_hash == key_hash, _key_is_live()
            )
        )
    ).first()
    return (
        None if row is None else ResolvedApiKey(api_key_id=row[0], client_id=row[1], scope=row[2])
    )


@dataclass(frozen=True, slots=True)
class IngestKey:
    """A DSN public key, resolved together with the project the request names."""

    api_key_id: str
    client_id: str
    scope: ApiKeyScope
    project_id: int | None
    """The project, when it exists and belongs to the key's client; else None."""
    allowed_origins: list[str]


async def resolve_ingest_key(
    session: AsyncSession, *, public_key: str, project_id: int
) -> IngestKey | None:
    """The live key with this public key, and the named project if it is the key's client's."""
    row = (
        await session.execute(
            select(ApiKey.id, ApiKey.client_id, ApiKey.scope, Project.id, Project.allowed_origins)
            .outerjoin(
                Project, (Project.id == project_id) & (Project.client_id == ApiKey.client_id)
            )
            .where(ApiKey.public_key == public_key, _key_is_live())
        )
    ).first()
    if row is None:
        return None
    return IngestKey(
        api_key_id=row[0],
        client_id=row[1],
        scope=row[2],
        project_id=row[3],
        allowed_origins=list(row[4] or []),
    )


async def project_origins(session: AsyncSession, *, project_id: int) -> list[str] | None:
    """A project's allowed origins (for a CORS preflight, which carries no key)."""
    origins = await session.scalar(select(Project.allowed_origins).where(Project.id == project_id))
    return None if origins is None else list(origins)


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


async def list_comments(
    session: AsyncSession,
    *,
    ticket_id: str,
    public_only: bool,
    after: CursorPosition | None,
    limit: int,
) -> list[Comment]:
    """A ticket's conversation, oldest first (without staff's internal notes if asked)."""
    statement = select(Comment).where(Comment.ticket_id == ticket_id)
    if public_only:
        statement = statement.where(Comment.visibility == "public")
    return await _page(session, statement, Comment, after=after, limit=limit, descending=False)


async def lock_tickets_a_release_fixes(
    session: AsyncSession, ticket_ids: list[str]
) -> list[Ticket]:
    """The open tickets of ``ticket_ids``, and the resolved ones that know no fix yet."""
    statement = (
        select(Ticket)
        .where(
            Ticket.id.in_(ticket_ids),
            or_(
                Ticket.status.in_(OPEN_STATUSES),
                (Ticket.status == RESOLVED_STATUS) & Ticket.fixed_in_version.is_(None),
            ),
        )
        .order_by(Ticket.id)  # a fixed lock order: two releases never deadlock
        .with_for_update()
    )
    return list((await session.scalars(statement)).all())


async def client_projects(session: AsyncSession, *, client_id: str) -> list[Project]:
    """Every project of a client, oldest first (the first is its default DSN's)."""
    statement = (
        select(Project)
        .where(Project.client_id == client_id)
        .order_by(Project.created_at, Project.id)
    )
    return list((await session.scalars(statement)).all())


async def list_projects(
    session: AsyncSession, *, client_id: str, after: CursorPosition | None, limit: int
) -> list[Project]:
    statement = select(Project).where(Project.client_id == client_id)
    return await _page(session, statement, Project, after=after, limit=limit, descending=False)


@dataclass(frozen=True, slots=True)
class OccurrenceView:
    sample: OccurrenceSample
    fingerprint: str


async def list_occurrences(
    session: AsyncSession, *, ticket_id: str, after: CursorPosition | None, limit: int
) -> list[OccurrenceView]:
    """The samples of every fingerprint routed to the ticket, newest first."""
    key = (OccurrenceSample.created_at, OccurrenceSample.id)
    statement = (
        select(OccurrenceSample, TicketFingerprint.fingerprint)
        .join(TicketFingerprint, TicketFingerprint.id == OccurrenceSample.fingerprint_id)
        .where(TicketFingerprint.ticket_id == ticket_id)
    )
    position = after_position(key, after, descending=True)
    if position is not None:
        statement = statement.where(position)
    rows = await session.execute(
        statement.order_by(*(column.desc() for column in key)).limit(limit)
    )
    return [OccurrenceView(sample=row[0], fingerprint=row[1]) for row in rows]


@dataclass(frozen=True, slots=True)
class Tally:
    value: str
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(slots=True)
class TicketBreakdown:
    """Per ticket: its releases, environments and fingerprints, with their counts."""

    releases: list[Tally]
    environments: list[Tally]
    fingerprints: list[Tally]


async def ticket_breakdowns(
    session: AsyncSession, ticket_ids: list[str]
) -> dict[str, TicketBreakdown]:
    """Two set-based queries for a whole page of tickets."""
    found: dict[str, TicketBreakdown] = defaultdict(lambda: TicketBreakdown([], [], []))
    if not ticket_ids:
        return found
    tallies = (
        select(
            TicketFingerprint.ticket_id,
            FingerprintTally.dimension,
            FingerprintTally.value,
            func.sum(FingerprintTally.occurrences).label("occurrences"),
            func.min(FingerprintTally.first_seen_at).label("first_seen_at"),
            func.max(FingerprintTally.last_seen_at).label("last_seen_at"),
        )
        .join(TicketFingerprint, TicketFingerprint.id == FingerprintTally.fingerprint_id)
        .where(TicketFingerprint.ticket_id.in_(ticket_ids))
        .group_by(TicketFingerprint.ticket_id, FingerprintTally.dimension, FingerprintTally.value)
        .order_by(literal_column("last_seen_at").desc())
    )
    for row in await session.execute(tallies):
        breakdown = found[row.ticket_id]
        listed = breakdown.releases if row.dimension == "release" else breakdown.environments
        if len(listed) < TICKET_VIEW_LIST_LIMIT:
            listed.append(
                Tally(row.value, int(row.occurrences), row.first_seen_at, row.last_seen_at)
            )
    fingerprints = (
        select(TicketFingerprint)
        .where(TicketFingerprint.ticket_id.in_(ticket_ids))
        .order_by(TicketFingerprint.last_seen_at.desc())
    )
    for route in await session.scalars(fingerprints):
        listed = found[route.ticket_id].fingerprints
        if len(listed) < TICKET_VIEW_LIST_LIMIT:
            listed.append(
                Tally(route.fingerprint, route.occurrences, route.first_seen_at, route.last_seen_at)
            )
    return found
