"""Data access for releases and the ticket read model. Nothing here commits.

The caller (a use case, or the consumer runner) owns the transaction, so a state change
and the events describing it always commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    any_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases.domain import ReleaseStatus
from aftercare_releases.models import Product, Release, ReleaseItem, TicketView
from aftercare_shared.db import column_arrays, table_of, unnested_rows
from aftercare_shared.events.catalog import (
    ChangeType,
    Priority,
    ReleaseKind,
    TicketCreated,
    TicketStatus,
)
from aftercare_shared.pagination import CursorPosition, after_position

# --- releases ------------------------------------------------------------------------


async def find_release(
    session: AsyncSession, release_id: str, *, lock: bool = False
) -> Release | None:
    """The release, or None; ``lock`` takes its row lock until the transaction ends."""
    statement = select(Release).where(Release.id == release_id)
    if lock:
        # populate_existing: the locked read must win over anything the session cached.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_release_by_product_version(
    session: AsyncSession, product: str, version: str
) -> Release | None:
    statement = select(Release).where(Release.product == product, Release.version == version)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_release_by_product_version_key(
    session: AsyncSession, product: str, version_key: str
) -> Release | None:
    """The release of ``product`` with the same SemVer precedence (build metadata aside)."""
    statement = select(Release).where(
        Release.product == product, Release.version_key == version_key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def ensure_product(session: AsyncSession, product: Product) -> None:
    """Register the product unless it is registered already."""
    statement = pg_insert(Product).values(
        name=product.name,
        ecosystem=product.ecosystem,
        repository_url=product.repository_url,
        created_at=product.created_at,
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=[Product.name]))


async def replace_release_items(
    session: AsyncSession,
    release_id: str,
    ticket_ids: Sequence[str],
    change_types: Mapping[str, ChangeType],
) -> None:
    """Make ``ticket_ids`` (in this order) the tickets the release fixes.

    ``change_types`` classifies some of them; the others follow their ticket's kind.
    """
    await session.execute(delete(ReleaseItem).where(ReleaseItem.release_id == release_id))
    if ticket_ids:
        await session.execute(
            insert(ReleaseItem),
            [
                {
                    "release_id": release_id,
                    "ticket_id": ticket_id,
                    "position": position,
                    "change_type": change_types.get(ticket_id),
                }
                for position, ticket_id in enumerate(ticket_ids)
            ],
        )


async def change_types_of_releases(
    session: AsyncSession, release_ids: Sequence[str]
) -> dict[str, dict[str, ChangeType]]:
    """The change types set explicitly, per release and ticket."""
    if not release_ids:
        return {}
    rows = await session.execute(
        select(ReleaseItem.release_id, ReleaseItem.ticket_id, ReleaseItem.change_type).where(
            ReleaseItem.release_id.in_(release_ids), ReleaseItem.change_type.is_not(None)
        )
    )
    found: dict[str, dict[str, ChangeType]] = {}
    for release_id, ticket_id, change_type in rows:
        if change_type is not None:
            found.setdefault(release_id, {})[ticket_id] = change_type
    return found


async def claim_due_releases(session: AsyncSession, *, now: datetime, limit: int) -> list[Release]:
    """Scheduled releases due by ``now``, locked; rows another replica holds are skipped."""
    statement = (
        select(Release)
        .where(Release.status == "scheduled", Release.publish_at <= now)
        .order_by(Release.publish_at, Release.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(statement)).scalars())


async def ticket_ids_of_releases(
    session: AsyncSession, release_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Each release's ticket ids in listing order (releases without tickets map to [])."""
    by_release: dict[str, list[str]] = {release_id: [] for release_id in release_ids}
    if not release_ids:
        return by_release
    rows = await session.execute(
        select(ReleaseItem.release_id, ReleaseItem.ticket_id)
        .where(ReleaseItem.release_id.in_(release_ids))
        .order_by(ReleaseItem.release_id, ReleaseItem.position)
    )
    for release_id, ticket_id in rows:
        by_release[release_id].append(ticket_id)
    return by_release


def visible_to_client(client_id: str) -> ColumnElement[bool]:
    """A client sees a release once it is published and fixes one of its tickets.

    Drafts stay internal: a draft security release must not tell anyone what is coming.
    """
    fixes_a_client_ticket = exists(
        select(ReleaseItem.ticket_id)
        .join(TicketView, TicketView.ticket_id == ReleaseItem.ticket_id)
        .where(ReleaseItem.release_id == Release.id, TicketView.client_id == client_id)
    )
    return and_(Release.status.in_(("published", "rolled_back")), fixes_a_client_ticket)


async def client_may_see_release(session: AsyncSession, release_id: str, client_id: str) -> bool:
    statement = select(Release.id).where(Release.id == release_id, visible_to_client(client_id))
    return (await session.execute(statement)).first() is not None


async def list_releases(
    session: AsyncSession,
    *,
    product: str | None,
    status: ReleaseStatus | None,
    kind: ReleaseKind | None,
    client_id: str | None,
    after: CursorPosition | None,
    limit: int,
) -> list[Release]:
    """Releases by product, then SemVer precedence (pre-releases before their release).

    Strictly after ``after``, a ``(product, version key, id)`` position; ``client_id``
    narrows the list to what that client may see. Versions stored before versions had to
    be SemVer have no key and come first.
    """
    conditions: list[ColumnElement[bool]] = [true()]
    if product is not None:
        conditions.append(Release.product == product)
    if status is not None:
        conditions.append(Release.status == status)
    if kind is not None:
        conditions.append(Release.kind == kind)
    if client_id is not None:
        conditions.append(visible_to_client(client_id))
    version_key = func.coalesce(Release.version_key, literal("").collate("C"))
    after_clause = after_position(
        [Release.product.expression, version_key, Release.id.expression], after, descending=False
    )
    if after_clause is not None:
        conditions.append(after_clause)
    statement = (
        select(Release)
        .where(*conditions)
        .order_by(Release.product, version_key, Release.id)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def releases_fixing_ticket(
    session: AsyncSession,
    ticket_id: str,
    *,
    client_id: str | None,
    after: CursorPosition | None,
    limit: int,
) -> list[Release]:
    """Releases that list ``ticket_id``, oldest first (the first one fixed it), one page."""
    conditions: list[ColumnElement[bool]] = [ReleaseItem.ticket_id == ticket_id]
    if client_id is not None:
        conditions.append(visible_to_client(client_id))
    keyset = after_position([Release.created_at, Release.id], after, descending=False)
    if keyset is not None:
        conditions.append(keyset)
    statement = (
        select(Release)
        .join(ReleaseItem, ReleaseItem.release_id == Release.id)
        .where(*conditions)
        .order_by(Release.created_at, Release.id)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


# --- the ticket read model -----------------------------------------------------------


async def ticket_views(session: AsyncSession, ticket_ids: Iterable[str]) -> dict[str, TicketView]:
    wanted = list(set(ticket_ids))
    if not wanted:
        return {}
    # One array parameter, not one parameter per id: a page of releases may list
    # more ids than a statement may carry parameters.
    rows = await session.execute(
        select(TicketView).where(TicketView.ticket_id == any_(literal(wanted, ARRAY(Text))))
    )
    return {view.ticket_id: view for view in rows.scalars()}


async def ticket_belongs_to_client(session: AsyncSession, ticket_id: str, client_id: str) -> bool:
    statement = select(TicketView.ticket_id).where(
        TicketView.ticket_id == ticket_id, TicketView.client_id == client_id
    )
    return (await session.execute(statement)).first() is not None


_CREATED_COLUMNS = (
    "ticket_id",
    "client_id",
    "title",
    "kind",
    "priority",
    "status",
    "status_changed_at",
)


def _tickets_created_upsert() -> Insert:
    """``INSERT … SELECT … ON CONFLICT DO UPDATE`` of a run of ``ticket.created``.

    Built once, at import, over one array per column (``unnested_rows``): the consumer
    hands it every run of new tickets in a polled batch, one statement per run where
    each event used to cost its own round trip. Building the Core statement per event
    (its ``excluded`` columns, three ``CASE``s, the ORM's DML path) cost more CPU than
    running it; built once, SQLAlchemy's compiled cache serves every call.
    """
    views = table_of(TicketView)
    run = unnested_rows(views, _CREATED_COLUMNS)
    statement = pg_insert(views).from_select(list(_CREATED_COLUMNS), select(*run.c))
    excluded, current = statement.excluded, views.c
    created_is_newer = excluded.status_changed_at > current.status_changed_at
    return statement.on_conflict_do_update(
        index_elements=[current.ticket_id],
        set_={
            "client_id": excluded.client_id,
            "title": excluded.title,
            "kind": excluded.kind,
            "priority": case(
                (created_is_newer, excluded.priority),
                else_=func.coalesce(current.priority, excluded.priority),
            ),
            "status": case((created_is_newer, excluded.status), else_=current.status),
            "status_changed_at": case(
                (created_is_newer, excluded.status_changed_at),
                else_=current.status_changed_at,
            ),
        },
    )


_TICKETS_CREATED_UPSERT = _tickets_created_upsert()


async def record_tickets_created(session: AsyncSession, created: Sequence[TicketCreated]) -> None:
    """Remember new tickets, in order; if a later event got here first, keep its status.

    One statement may touch a row only once, so a ticket announced twice in the run
    starts a new statement at its second announcement: the same effect as one at a time.
    """
    for part in _parts_without_repeats(created):
        await session.execute(
            _TICKETS_CREATED_UPSERT,
            column_arrays(
                part,
                *("ticket_id", "client_id", "title", "kind", "priority", "status"),
                status_changed_at="created_at",
            ),
        )


def _parts_without_repeats(created: Sequence[TicketCreated]) -> list[list[TicketCreated]]:
    parts: list[list[TicketCreated]] = [[]]
    seen: set[str] = set()
    for ticket in created:
        if ticket.ticket_id in seen:
            parts.append([])
            seen.clear()
        parts[-1].append(ticket)
        seen.add(ticket.ticket_id)
    return parts


async def record_ticket_status(
    session: AsyncSession,
    *,
    ticket_id: str,
    client_id: str,
    status: TicketStatus,
    changed_at: datetime,
    priority: Priority | None = None,
    kind: str | None = None,
) -> None:
    """Apply a status (and maybe priority and kind) change unless a newer one is applied.

    A ticket not seen yet (its ``ticket.created`` lags or was dead-lettered) is recorded
    without a title, so tenant checks work at once and the title fills in later.
    """
    statement = pg_insert(TicketView).values(
        ticket_id=ticket_id,
        client_id=client_id,
        title=None,
        priority=priority,
        kind=kind,
        status=status,
        status_changed_at=changed_at,
    )
    changes = {
        "status": statement.excluded.status,
        "status_changed_at": statement.excluded.status_changed_at,
    }
    if priority is not None:
        changes["priority"] = statement.excluded.priority
    # A re-classified ticket changes its changelog section (bug → fixed, feature → added).
    if kind is not None:
        changes["kind"] = statement.excluded.kind
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[TicketView.ticket_id],
            set_=changes,
            where=statement.excluded.status_changed_at >= TicketView.status_changed_at,
        )
    )
