"""What the releases API does: each function is one transaction, committed at its end.

Inputs are already validated by the HTTP schemas (which call the rules in ``domain``);
the functions here enforce what needs the database: uniqueness, editability under a row
lock, and what a client key may see.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases import patch_repository, repository
from aftercare_releases.changelog import (
    ChangelogEntry,
    ChangelogHeader,
    ReleaseChangelog,
    render_release_markdown,
    sections_of,
)
from aftercare_releases.domain import (
    ReleaseStatus,
    canonical_id,
    decide_publish,
    default_change_type,
    ensure_editable,
    ensure_transition,
    unknown_ticket_ids,
)
from aftercare_releases.errors import (
    ClientNotFoundError,
    DuplicateReleaseError,
    ProductNotFoundError,
    ReleaseNotFoundError,
    TicketNotFoundError,
)
from aftercare_releases.models import Product, Release, TicketView
from aftercare_releases.versions import parse_version
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    ChangelogEntry as EventChangelogEntry,
)
from aftercare_shared.events.catalog import (
    ChangelogSection,
    ChangeType,
    ReleaseCreated,
    ReleaseKind,
    ReleasePublished,
    ReleaseRolledBack,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.pagination import Page, decode_cursor, page_of
from aftercare_shared.patch import UNSET, Unset

_PRODUCT_VERSION_CONSTRAINTS = ("uq_releases_product_version", "uq_releases_product_version_key")


SERVICE = ServiceName.RELEASES
SCHEMA = schema_of(SERVICE)


@dataclass(frozen=True, slots=True)
class ReleaseChanges:
    """A PATCH's changes; a field left :data:`UNSET` stays as it is (``notes=None`` clears)."""

    kind: ReleaseKind | Unset = UNSET
    notes: str | Unset | None = UNSET
    ticket_ids: Sequence[str] | Unset = UNSET
    change_types: Mapping[str, ChangeType] | Unset = UNSET


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
    publish_at: datetime | None
    cancelled_at: datetime | None
    rolled_back_at: datetime | None
    rollback_reason: str | None
    change_types: dict[str, ChangeType]


@dataclass(frozen=True, slots=True)
class Changelog:
    release: ReleaseView
    header: ChangelogHeader
    entries: list[ChangelogEntry] = field(default_factory=list)

    @property
    def document(self) -> ReleaseChangelog:
        return ReleaseChangelog(header=self.header, entries=self.entries)


def _view(
    release: Release,
    ticket_ids: list[str],
    known: Mapping[str, TicketView],
    *,
    client_id: str | None,
    change_types: Mapping[str, ChangeType],
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
        publish_at=release.publish_at,
        cancelled_at=release.cancelled_at,
        rolled_back_at=release.rolled_back_at,
        rollback_reason=release.rollback_reason,
        change_types={
            ticket_id: change_types.get(ticket_id)
            or default_change_type(known[ticket_id].kind if ticket_id in known else None)
            for ticket_id in shown_ids
        },
    )


async def _views(
    session: AsyncSession, releases: Sequence[Release], *, client_id: str | None
) -> list[ReleaseView]:
    """The releases as the caller may see them, in three queries whatever their number."""
    ticket_ids = await repository.ticket_ids_of_releases(session, [r.id for r in releases])
    change_types = await repository.change_types_of_releases(session, [r.id for r in releases])
    known = await repository.ticket_views(session, chain.from_iterable(ticket_ids.values()))
    return [
        _view(
            release,
            ticket_ids[release.id],
            known,
            client_id=client_id,
            change_types=change_types.get(release.id, {}),
        )
        for release in releases
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
    change_types: Mapping[str, ChangeType] | None = None,
) -> ReleaseView:
    """Create a draft and emit ``release.created``; (product, version) must be new.

    A product the agency has not registered yet is registered on the way (without an
    ecosystem), so naming a release is enough to start one.
    """
    parsed = parse_version(version)
    existing = await repository.find_release_by_product_version_key(session, product, parsed.key)
    if existing is not None:
        raise _duplicate(product, parsed.text, existing_release_id=existing.id)
    now = utc_now()
    await repository.ensure_product(session, Product(name=product, created_at=now))
    release = Release(
        id=str(uuid.uuid4()),
        product=product,
        version=parsed.text,
        version_key=parsed.key,
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
        if any(name in str(error.orig) for name in _PRODUCT_VERSION_CONSTRAINTS):
            # Another request created the same version between our check and insert: its
            # id is not visible to this transaction, so the answer cannot carry it.
            raise _duplicate(product, version) from error
        raise
    await repository.replace_release_items(session, release.id, ticket_ids, change_types or {})
    payload = ReleaseCreated(
        release_id=release.id,
        product=product,
        version=parsed.text,
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
    """One page in version precedence per product; ``next_cursor`` is None on the last."""
    after = decode_cursor(cursor, str, str, str)
    releases = await repository.list_releases(
        session,
        product=product,
        status=status,
        kind=kind,
        client_id=client_id,
        after=after,
        limit=limit + 1,
    )
    return await _page_of_views(
        session,
        releases,
        limit=limit,
        client_id=client_id,
        key=lambda release: (release.product, release.version_key or "", release.id),
    )


async def _page_of_views(
    session: AsyncSession,
    releases: Sequence[Release],
    *,
    limit: int,
    client_id: str | None,
    key: Callable[[Release], tuple[datetime | str, ...]] = lambda r: (r.created_at, r.id),
) -> Page[ReleaseView]:
    """A page from ``limit + 1`` fetched releases, each with its tickets' views."""
    views = await _views(session, releases[:limit], client_id=client_id)
    by_id = {view.id: view for view in views}
    return page_of(releases, limit=limit, key=key, item=lambda release: by_id[release.id])


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
    if changes.ticket_ids is not UNSET or changes.change_types is not UNSET:
        current = (await repository.ticket_ids_of_releases(session, [release.id]))[release.id]
        current_types = (await repository.change_types_of_releases(session, [release.id])).get(
            release.id, {}
        )
        wanted = current if changes.ticket_ids is UNSET else list(changes.ticket_ids)
        wanted_types = (
            {tid: t for tid, t in current_types.items() if tid in wanted}
            if changes.change_types is UNSET
            else dict(changes.change_types)
        )
        if wanted != current or wanted_types != current_types:
            await repository.replace_release_items(session, release.id, wanted, wanted_types)
            changed = True
    if changed:
        release.updated_at = utc_now()
        await session.flush()
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def publish_release(*, session: AsyncSession, release_id: str) -> ReleaseView:
    """Publish a draft or scheduled release and emit ``release.published`` once."""
    # FOR UPDATE: of two concurrent publishes the second waits here, then finds the
    # release published and emits nothing.
    release = await _find_release(session, release_id, lock=True)
    ensure_transition(release.id, release.status, "publish")
    await publish_locked(session, release, now=utc_now())
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def publish_locked(session: AsyncSession, release: Release, *, now: datetime) -> bool:
    """Publish ``release`` (row locked by the caller) unless it is already; emit the event.

    The event carries the changelog, so integrators' webhooks have it without a call back.
    """
    decision = decide_publish(release.status, release.published_at, now=now)
    if not decision.newly_published:
        return False
    release.status = "published"
    release.published_at = decision.published_at
    release.updated_at = decision.published_at
    release.publish_at = None
    await session.flush()
    changelog = await _changelog_of(session, release, client_id=None)
    payload = ReleasePublished(
        release_id=release.id,
        product=release.product,
        version=release.version,
        kind=release.kind,
        notes=release.notes,
        ticket_ids=changelog.release.ticket_ids,
        published_at=decision.published_at,
        changelog=[
            ChangelogSection(
                change_type=change_type,
                entries=[
                    EventChangelogEntry(ticket_id=entry.ticket_id, title=entry.title)
                    for entry in entries
                ],
            )
            for change_type, entries in sections_of(changelog.entries)
        ],
        changelog_markdown=render_release_markdown(changelog.document),
    )
    await enqueue_event(
        session, new_event(payload, service=SERVICE, subject=release.id), schema=SCHEMA
    )
    return True


async def schedule_release(
    *, session: AsyncSession, release_id: str, publish_at: datetime
) -> ReleaseView:
    """Draft → scheduled: the scheduler publishes it at ``publish_at`` (again: reschedules)."""
    release = await _find_release(session, release_id, lock=True)
    ensure_transition(release.id, release.status, "schedule")
    release.status = "scheduled"
    release.publish_at = publish_at
    release.updated_at = utc_now()
    await session.flush()
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def cancel_release(*, session: AsyncSession, release_id: str) -> ReleaseView:
    """A draft or scheduled release will never be published."""
    release = await _find_release(session, release_id, lock=True)
    ensure_transition(release.id, release.status, "cancel")
    now = utc_now()
    release.status = "cancelled"
    release.publish_at = None
    release.cancelled_at = now
    release.updated_at = now
    await session.flush()
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def rollback_release(*, session: AsyncSession, release_id: str, reason: str) -> ReleaseView:
    """Published → rolled_back and ``release.rolled_back``: its tickets reopen in intake."""
    release = await _find_release(session, release_id, lock=True)
    ensure_transition(release.id, release.status, "rollback")
    now = utc_now()
    release.status = "rolled_back"
    release.rolled_back_at = now
    release.rollback_reason = reason
    release.updated_at = now
    ticket_ids = (await repository.ticket_ids_of_releases(session, [release.id]))[release.id]
    payload = ReleaseRolledBack(
        release_id=release.id,
        product=release.product,
        version=release.version,
        reason=reason,
        ticket_ids=ticket_ids,
        rolled_back_at=now,
    )
    await enqueue_event(
        session, new_event(payload, service=SERVICE, subject=release.id), schema=SCHEMA
    )
    await session.flush()
    view = await _staff_view(session, release)
    await session.commit()
    return view


async def publish_due_releases(session: AsyncSession, *, limit: int) -> int:
    """Publish scheduled releases whose time has come; one transaction, committed here.

    ``SKIP LOCKED`` lets replicas share the work: a release one replica is publishing is
    invisible to the others, and once committed it is no longer scheduled, so each due
    release is published exactly once.
    """
    now = utc_now()
    due = await repository.claim_due_releases(session, now=now, limit=limit)
    for release in due:
        await publish_locked(session, release, now=now)
    await session.commit()
    return len(due)


async def releases_for_ticket(
    *,
    session: AsyncSession,
    ticket_id: str,
    client_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[ReleaseView]:
    """Releases listing ``ticket_id``, oldest first; a client only asks about its own."""
    after = decode_cursor(cursor, datetime, str)
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
    """The release's changelog with what the read model knows of its tickets."""
    release = await _visible_release(session, release_id, client_id=client_id)
    return await _changelog_of(session, release, client_id=client_id)


async def _changelog_of(
    session: AsyncSession, release: Release, *, client_id: str | None
) -> Changelog:
    view = (await _views(session, [release], client_id=client_id))[0]
    known = await repository.ticket_views(session, view.ticket_ids)
    entries = [
        ChangelogEntry(
            ticket_id=ticket_id,
            title=known[ticket_id].title if ticket_id in known else None,
            priority=known[ticket_id].priority if ticket_id in known else None,
            status=known[ticket_id].status if ticket_id in known else None,
            change_type=view.change_types[ticket_id],
        )
        for ticket_id in view.ticket_ids
    ]
    header = ChangelogHeader(
        release_id=view.id,
        product=view.product,
        version=view.version,
        kind=view.kind,
        status=view.status,
        published_at=view.published_at,
        notes=view.notes,
    )
    return Changelog(release=view, header=header, entries=entries)


async def product_changelog(
    *, session: AsyncSession, product: str, from_version: str | None, to_version: str | None
) -> list[Changelog]:
    """Published releases of ``product`` after ``from`` up to and including ``to``, newest first."""
    if await patch_repository.find_product(session, product) is None:
        raise ProductNotFoundError("No such product.")
    releases = await patch_repository.published_releases(
        session,
        product,
        above_key=None if from_version is None else parse_version(from_version).key,
        up_to_key=None if to_version is None else parse_version(to_version).key,
    )
    return [await _changelog_of(session, release, client_id=None) for release in releases]


async def client_changelog(
    *,
    session: AsyncSession,
    scope: str | None,
    client_id: str,
    product: str | None,
    since: datetime | None,
) -> list[Changelog]:
    """What reached this client: releases fixing its tickets or of products it has run.

    Entries are only the client's own tickets; other clients' tickets never show.
    """
    if scope is not None and scope != client_id:
        raise ClientNotFoundError("No such client.")
    releases = await patch_repository.releases_for_client(
        session, client_id=client_id, product=product, since=since
    )
    return [await _changelog_of(session, release, client_id=client_id) for release in releases]


def _duplicate(
    product: str, version: str, *, existing_release_id: str | None = None
) -> DuplicateReleaseError:
    detail = f"A release {version} of {product} already exists."
    if existing_release_id is None:
        return DuplicateReleaseError(detail)
    return DuplicateReleaseError(detail, existing_release_id=existing_release_id)
