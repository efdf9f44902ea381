"""What the releases API does: each function is one transaction, committed at its end.

Inputs are already validated by the HTTP schemas (which call the rules in ``domain``);
the functions here enforce what needs the database: uniqueness, editability under a row
lock, and what a client key may see.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases import repository
from aftercare_releases.changelog import ChangelogEntry, ChangelogHeader
from aftercare_releases.domain import (
    ReleaseStatus,
    canonical_id,
    decide_publish,
    ensure_editable,
    unknown_ticket_ids,
)
from aftercare_releases.errors import (
    DuplicateReleaseError,
    ReleaseNotFoundError,
    TicketNotFoundError,
)
from aftercare_releases.models import Release, TicketView
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import ReleaseCreated, ReleaseKind, ReleasePublished
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.pagination import Page, decode_cursor, page_of
from aftercare_shared.patch import UNSET, Unset

_PRODUCT_VERSION_CONSTRAINT = "uq_releases_product_version"


SERVICE = ServiceName.RELEASES
SCHEMA = schema_of(SERVICE)


@dataclass(frozen=True, slots=True)
class ReleaseChanges:
    """A PATCH's changes; a field left :data:`UNSET` stays as it is (``notes=None`` clears)."""

    kind: ReleaseKind | Unset = UNSET
    notes: str | Unset | None = UNSET
    ticket_ids: Sequence[str] | Unset = UNSET


@dataclass(frozen=True, slots=True)
class ReleaseView:
    """A release as one caller may see it."""

    id: str
    product: str
    version: str
    kind: ReleaseKind
    notes: str | None
    status: ReleaseStatus
    ticket_ids: list[str]
    unknown_ticket_ids: list[str]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class Changelog:
    release: ReleaseView
    header: ChangelogHeader
    entries: list[ChangelogEntry] = field(default_factory=list)


def _view(
    release: Release,
    ticket_ids: list[str],
    known: Mapping[str, TicketView],
    *,
    client_id: str | None,
) -> ReleaseView:
    if client_id is None:
        shown_ids = ticket_ids
        unknown = unknown_ticket_ids(ticket_ids, known)
    else:
        # A client learns nothing about other clients' tickets, not even their ids.
        shown_ids = [
            tid for tid in ticket_ids if tid in known and known[tid].client_id == client_id
        ]
        unknown = []
    return ReleaseView(
        id=release.id,
        product=release.product,
        version=release.version,
        kind=release.kind,
        notes=release.notes,
        status=release.status,
        ticket_ids=shown_ids,
        unknown_ticket_ids=unknown,
        created_at=release.created_at,
        updated_at=release.updated_at,
        published_at=release.published_at,
    )


async def _views(
    session: AsyncSession, releases: Sequence[Release], *, client_id: str | None
) -> list[ReleaseView]:
    """The releases as the caller may see them, in three queries whatever their number."""
    ticket_ids = await repository.ticket_ids_of_releases(session, [r.id for r in releases])
    known = await repository.ticket_views(session, chain.from_iterable(ticket_ids.values()))
    return [
        _view(release, ticket_ids[release.id], known, client_id=client_id) for release in releases
    ]


async def _staff_view(session: AsyncSession, release: Release) -> ReleaseView:
    return (await _views(session, [release], client_id=None))[0]


async def _find_release(session: AsyncSession, release_id: str, *, lock: bool = False) -> Release:
    stored_id = canonical_id(release_id)
    release = None
    if stored_id is not None:
        release = await repository.find_release(session, stored_id, lock=lock)
    if release is None:
        # The id is in the problem's instance (the path); not echoed, it may be anything.
        raise ReleaseNotFoundError("No such release.")
    return release


async def _visible_release(
    session: AsyncSession, release_id: str, *, client_id: str | None
) -> Release:
    release = await _find_release(session, release_id)
    if client_id is not None and not await repository.client_may_see_release(
        session, release.id, client_id
    ):
        raise ReleaseNotFoundError("No such release.")
    return release


async def create_release(
    *,
    session: AsyncSession,
    product: str,
    version: str,
    kind: ReleaseKind,
    notes: str | None,
    ticket_ids: Sequence[str],
) -> ReleaseView:
    """Create a draft and emit ``release.created``; (product, version) must be new."""
    existing = await repository.find_release_by_product_version(session, product, version)
    if existing is not None:
        raise _duplicate(product, version, existing_release_id=existing.id)
    now = utc_now()
    release = Release(
        id=str(uuid.uuid4()),
        product=product,
        version=version,
        kind=kind,
        notes=notes,
        status="draft",
        created_at=now,
        updated_at=now,
        published_at=None,
    )
    session.add(release)
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        if _PRODUCT_VERSION_CONSTRAINT in str(error.orig):
            # Another request created the same version between our check and insert: its
            # id is not visible to this transaction, so the answer cannot carry it.
            raise _duplicate(product, version) from error
        raise
    await repository.replace_release_items(session, release.id, ticket_ids)
    payload = ReleaseCreated(
        release_id=release.id,
        product=product,
        version=version,
        kind=kind,
        ticket_ids=list(ticket_ids),
        created_at=now,
    )
    await enqueue_event(
        session,
        new_event(payload, service=SERVICE, subject=release.id),
        schema=SCHEMA,
    )
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def get_release(
    *, session: AsyncSession, release_id: str, client_id: str | None
) -> ReleaseView:
    """The release; for a client (``client_id`` set) only one it may see."""
    release = await _visible_release(session, release_id, client_id=client_id)
    return (await _views(session, [release], client_id=client_id))[0]


async def list_releases(
    *,
    session: AsyncSession,
    product: str | None,
    status: ReleaseStatus | None,
    kind: ReleaseKind | None,
    client_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[ReleaseView]:
    """One page, newest first by ``(created_at, id)``; ``next_cursor`` is None on the last."""
    after = None if cursor is None else decode_cursor(cursor, datetime, str)
    releases = await repository.list_releases(
        session,
        product=product,
        status=status,
        kind=kind,
        client_id=client_id,
        after=after,
        limit=limit + 1,
    )
    return await _page_of_views(session, releases, limit=limit, client_id=client_id)


async def _page_of_views(
    session: AsyncSession, releases: Sequence[Release], *, limit: int, client_id: str | None
) -> Page[ReleaseView]:
    """A page from ``limit + 1`` fetched releases, each with its tickets' views."""
    views = await _views(session, releases[:limit], client_id=client_id)
    by_id = {view.id: view for view in views}
    return page_of(
        releases,
        limit=limit,
        key=lambda release: (release.created_at, release.id),
        item=lambda release: by_id[release.id],
    )


async def update_release(
    *, session: AsyncSession, release_id: str, changes: ReleaseChanges
) -> ReleaseView:
    """Change a draft's kind, notes or tickets; a published release is refused."""
    # The row lock orders this against a concurrent publish: either the edit lands
    # before publishing (and is in the event) or it sees "published" and is refused.
    release = await _find_release(session, release_id, lock=True)
    ensure_editable(release.id, release.status)
    changed = False
    if changes.kind is not UNSET and changes.kind != release.kind:
        release.kind = changes.kind
        changed = True
    if changes.notes is not UNSET and changes.notes != release.notes:
        release.notes = changes.notes
        changed = True
    if changes.ticket_ids is not UNSET:
        current = (await repository.ticket_ids_of_releases(session, [release.id]))[release.id]
        if list(changes.ticket_ids) != current:
            await repository.replace_release_items(session, release.id, changes.ticket_ids)
            changed = True
    if changed:
        release.updated_at = utc_now()
        await session.flush()
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def publish_release(*, session: AsyncSession, release_id: str) -> ReleaseView:
    """Publish a draft and emit ``release.published`` once; again is a no-op."""
    # FOR UPDATE: of two concurrent publishes the second waits here, then finds the
    # release published and emits nothing.
    release = await _find_release(session, release_id, lock=True)
    decision = decide_publish(release.status, release.published_at, now=utc_now())
    if decision.newly_published:
        ticket_ids = (await repository.ticket_ids_of_releases(session, [release.id]))[release.id]
        release.status = "published"
        release.published_at = decision.published_at
        release.updated_at = decision.published_at
        payload = ReleasePublished(
            release_id=release.id,
            product=release.product,
            version=release.version,
            kind=release.kind,
            notes=release.notes,
            ticket_ids=ticket_ids,
            published_at=decision.published_at,
        )
        await enqueue_event(
            session,
            new_event(payload, service=SERVICE, subject=release.id),
            schema=SCHEMA,
        )
        await session.flush()
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def releases_for_ticket(
    *,
    session: AsyncSession,
    ticket_id: str,
    client_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[ReleaseView]:
    """Releases listing ``ticket_id``, oldest first; a client only asks about its own."""
    after = None if cursor is None else decode_cursor(cursor, datetime, str)
    stored_id = canonical_id(ticket_id)
    if client_id is not None and (
        stored_id is None
        or not await repository.ticket_belongs_to_client(session, stored_id, client_id)
    ):
        raise TicketNotFoundError("No such ticket.")
    if stored_id is None:
        return Page[ReleaseView](items=[], next_cursor=None)
    releases = await repository.releases_fixing_ticket(
        session, stored_id, client_id=client_id, after=after, limit=limit + 1
    )
    return await _page_of_views(session, releases, limit=limit, client_id=client_id)


async def release_changelog(
    *, session: AsyncSession, release_id: str, client_id: str | None
) -> Changelog:
    """The release's fixed tickets with what the read model knows of them."""
    view = await get_release(session=session, release_id=release_id, client_id=client_id)
    known = await repository.ticket_views(session, view.ticket_ids)
    entries = [
        ChangelogEntry(
            ticket_id=ticket_id,
            title=known[ticket_id].title if ticket_id in known else None,
            priority=known[ticket_id].priority if ticket_id in known else None,
            status=known[ticket_id].status if ticket_id in known else None,
        )
        for ticket_id in view.ticket_ids
    ]
    header = ChangelogHeader(
        product=view.product,
        version=view.version,
        kind=view.kind,
        status=view.status,
        published_at=view.published_at,
        notes=view.notes,
    )
    return Changelog(release=view, header=header, entries=entries)


def _duplicate(
    product: str, version: str, *, existing_release_id: str | None = None
) -> DuplicateReleaseError:
    detail = f"A release {version} of {product} already exists."
    if existing_release_id is None:
        return DuplicateReleaseError(detail)
    return DuplicateReleaseError(detail, existing_release_id=existing_release_id)
