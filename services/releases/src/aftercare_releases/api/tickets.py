"""``/v1/tickets/{ticket_id}/releases``: which releases fix a ticket."""

from __future__ import annotations

from fastapi import APIRouter

from aftercare_releases import use_cases
from aftercare_releases.api.access import client_scope
from aftercare_releases.api.problems import PROBLEM_RESPONSES, ticket_not_found
from aftercare_releases.api.schemas import ReleaseOut
from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.sessions import SessionDep

router = APIRouter(prefix="/v1/tickets", tags=["releases"], responses=PROBLEM_RESPONSES)


@router.get("/{ticket_id}/releases", response_model=list[ReleaseOut])
async def releases_for_ticket(
    ticket_id: str, session: SessionDep, principal: CurrentPrincipal
) -> list[ReleaseOut]:
    """Releases listing the ticket, oldest first (empty when none does yet).

    A client key may ask only about its own tickets (404 otherwise) and sees only
    published releases.
    """
    try:
        views = await use_cases.releases_for_ticket(
            session=session,
            ticket_id=ticket_id,
            client_id=client_scope(principal),
        )
    except use_cases.TicketNotFoundError as error:
        raise ticket_not_found(error) from error
    return [ReleaseOut.of(view) for view in views]
