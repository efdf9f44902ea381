"""``/v1/tickets/{ticket_id}/releases``: which releases fix a ticket."""

from __future__ import annotations

from fastapi import APIRouter

from aftercare_releases import use_cases
from aftercare_releases.api.access import client_scope
from aftercare_releases.api.schemas import ReleaseOut
from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.pagination import DEFAULT_PAGE_SIZE, Page, PageCursor, PageLimit
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1/tickets",
    tags=["releases"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            422: "A bad cursor or limit; nothing was read.",
            404: "No such ticket among this client key's own.",
            429: "Too many calls with this client key; retry after Retry-After seconds.",
        }
    ),
)


@router.get("/{ticket_id}/releases", response_model=Page[ReleaseOut])
async def releases_for_ticket(
    ticket_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ReleaseOut]:
    """Releases listing the ticket, oldest first (empty when none does yet).

    A client key may ask only about its own tickets (404 otherwise) and sees only
    published releases.
    """
    page = await use_cases.releases_for_ticket(
        session=session,
        ticket_id=ticket_id,
        client_id=client_scope(principal),
        cursor=cursor,
        limit=limit,
    )
    return Page[ReleaseOut](
        items=[ReleaseOut.of(view) for view in page.items], next_cursor=page.next_cursor
    )
