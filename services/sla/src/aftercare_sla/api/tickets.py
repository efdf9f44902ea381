"""A ticket's SLA: staff see any ticket's clocks, a client key only its own client's."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep
from aftercare_sla import use_cases
from aftercare_sla.api.schemas import ClockOut, Identifier, TicketSlaOut

router = APIRouter(
    prefix="/v1/tickets",
    tags=["tickets"],
    responses=problem_responses(
        {
            401: "No or unknown credentials.",
            404: "sla has not seen the ticket, or it is another client's.",
            422: "The ticket id is not valid.",
            429: "Too many calls with this client key; see Retry-After.",
        }
    ),
)

_ONE_SECOND = timedelta(seconds=1)


def clock_out(view: use_cases.ClockView) -> ClockOut:
    clock = view.clock
    target_seconds = clock.target // _ONE_SECOND
    elapsed_seconds = view.elapsed // _ONE_SECOND
    return ClockOut(
        metric=clock.metric,
        state=clock.state,
        target_seconds=target_seconds,
        started_at=clock.started_at,
        due_at=clock.due_at,
        at_risk_at=clock.at_risk_at,
        at_risk_reached_at=clock.at_risk_reached_at,
        paused_at=clock.paused_at,
        stopped_at=clock.stopped_at,
        breached_at=clock.breached_at,
        met_at=clock.met_at,
        outcome=clock.outcome,
        cycle=clock.cycle,
        elapsed_business_seconds=elapsed_seconds,
        # From the whole seconds shown, so the two always add up to the target.
        remaining_business_seconds=target_seconds - elapsed_seconds,
    )


@router.get("/{ticket_id}/sla", response_model=TicketSlaOut)
async def get_ticket_sla(
    ticket_id: Annotated[Identifier, Path()], session: SessionDep, principal: CurrentPrincipal
) -> TicketSlaOut:
    view = await use_cases.ticket_sla(session, ticket_id=ticket_id, viewer=principal)
    ticket = view.ticket
    return TicketSlaOut(
        ticket_id=ticket.ticket_id,
        client_id=ticket.client_id,
        plan_id=ticket.plan_id,
        priority=ticket.priority,
        status=ticket.status,
        clocks=[clock_out(clock) for clock in view.clocks],
    )
