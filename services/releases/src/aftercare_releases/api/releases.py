"""``/v1/releases``: create, read, list, edit and publish releases; their changelogs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator
from starlette.responses import PlainTextResponse

from aftercare_releases import use_cases
from aftercare_releases.api.access import client_scope
from aftercare_releases.api.schemas import (
    ChangelogOut,
    ReleaseCreate,
    ReleaseOut,
    ReleaseRollback,
    ReleaseSchedule,
    ReleaseUpdate,
)
from aftercare_releases.domain import PRODUCT_MAX_LENGTH, ReleaseStatus, normalize_product
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.events.catalog import ReleaseKind
from aftercare_shared.pagination import DEFAULT_PAGE_SIZE, Page, PageCursor, PageLimit
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep


def _product_filter(value: str | None) -> str | None:
    # The same normalization as on create, so "?product= Acme " finds "Acme".
    return None if value is None else normalize_product(value)


router = APIRouter(
    prefix="/v1/releases",
    tags=["releases"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "The call needs a staff token.",
            404: "No such release (or not one this client key may see).",
            409: "The release exists already (`release-exists`), is published "
            "(`release-published`), or cannot take that lifecycle step (`release-transition`).",
            422: "The request is not valid; nothing was changed.",
            429: "Too many calls with this client key; retry after Retry-After seconds.",
        }
    ),
)


@router.post("", status_code=201, response_model=ReleaseOut)
async def create_release(
    body: ReleaseCreate, session: SessionDep, principal: StaffPrincipal, response: Response
) -> ReleaseOut:
    """Create a draft release; ``(product, version)`` must be new (409 otherwise)."""
    view = await use_cases.create_release(
        session=session,
        product=body.product,
        version=body.version,
        kind=body.kind,
        notes=body.notes,
        ticket_ids=body.ticket_ids,
        change_types=body.change_types,
    )
    response.headers["Location"] = f"/v1/releases/{view.id}"
    return ReleaseOut.of(view)


@router.get("", response_model=Page[ReleaseOut])
async def list_releases(
    session: SessionDep,
    principal: CurrentPrincipal,
    product: Annotated[
        str | None,
        Query(min_length=1, max_length=PRODUCT_MAX_LENGTH + 20),
        AfterValidator(_product_filter),
    ] = None,
    status: ReleaseStatus | None = None,
    kind: ReleaseKind | None = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ReleaseOut]:
    """Releases by product, then by SemVer precedence (pre-releases before their release).

    One page at a time (follow ``next_cursor``).

    A client key sees only published releases that fix at least one of its tickets.
    """
    page = await use_cases.list_releases(
        session=session,
        product=product,
        status=status,
        kind=kind,
        client_id=client_scope(principal),
        cursor=cursor,
        limit=limit,
    )
    return Page[ReleaseOut](
        items=[ReleaseOut.of(view) for view in page.items], next_cursor=page.next_cursor
    )


@router.get("/{release_id}", response_model=ReleaseOut)
async def get_release(
    release_id: str, session: SessionDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """One release. A client key gets 404 unless it is published and fixes one of its tickets."""
    view = await use_cases.get_release(
        session=session, release_id=release_id, client_id=client_scope(principal)
    )
    return ReleaseOut.of(view)


@router.patch("/{release_id}", response_model=ReleaseOut)
async def update_release(
    release_id: str, body: ReleaseUpdate, session: SessionDep, principal: StaffPrincipal
) -> ReleaseOut:
    """Change a draft's ``kind``, ``notes`` or ``ticket_ids`` (409 once published).

    Fields left out stay as they are; ``notes: null`` clears the notes.
    """
    view = await use_cases.update_release(
        session=session,
        release_id=release_id,
        changes=use_cases.ReleaseChanges(**body.changes()),
    )
    return ReleaseOut.of(view)


@router.post("/{release_id}/publish", response_model=ReleaseOut)
async def publish_release(
    release_id: str, session: SessionDep, principal: StaffPrincipal
) -> ReleaseOut:
    """Publish the release and emit ``release.published``; publishing again changes nothing."""
    view = await use_cases.publish_release(session=session, release_id=release_id)
    return ReleaseOut.of(view)


@router.post("/{release_id}/schedule", response_model=ReleaseOut)
async def schedule_release(
    release_id: str, body: ReleaseSchedule, session: SessionDep, principal: StaffPrincipal
) -> ReleaseOut:
    """Schedule a draft: it publishes itself at ``publish_at`` (once, across replicas)."""
    view = await use_cases.schedule_release(
        session=session, release_id=release_id, publish_at=body.publish_at
    )
    return ReleaseOut.of(view)


@router.post("/{release_id}/cancel", response_model=ReleaseOut)
async def cancel_release(
    release_id: str, session: SessionDep, principal: StaffPrincipal
) -> ReleaseOut:
    """Cancel a draft or scheduled release; it will never be published."""
    view = await use_cases.cancel_release(session=session, release_id=release_id)
    return ReleaseOut.of(view)


@router.post("/{release_id}/rollback", response_model=ReleaseOut)
async def rollback_release(
    release_id: str, body: ReleaseRollback, session: SessionDep, principal: StaffPrincipal
) -> ReleaseOut:
    """Withdraw a published release: emits ``release.rolled_back``; its tickets reopen."""
    view = await use_cases.rollback_release(
        session=session, release_id=release_id, reason=body.reason
    )
    return ReleaseOut.of(view)


@router.get(
    "/{release_id}/changelog",
    response_model=ChangelogOut,
    responses={200: {"content": {"text/markdown": {}}}},
)
async def get_changelog(
    release_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    output_format: Annotated[Literal["json", "markdown"], Query(alias="format")] = "json",
) -> ChangelogOut | PlainTextResponse:
    """The release's Keep a Changelog section as JSON, or ``?format=markdown`` alone."""
    changelog = await use_cases.release_changelog(
        session=session, release_id=release_id, client_id=client_scope(principal)
    )
    out = ChangelogOut.of(changelog.document)
    if output_format == "markdown":
        return PlainTextResponse(out.markdown, media_type="text/markdown; charset=utf-8")
    return out
