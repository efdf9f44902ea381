"""Which plan covers a client: staff assign it; a client key may read its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep
from aftercare_sla import use_cases
from aftercare_sla.api.schemas import Identifier, PlanAssignmentIn, PlanAssignmentOut
from aftercare_sla.models import ClientPlan

router = APIRouter(
    prefix="/v1/clients",
    tags=["clients"],
    responses=problem_responses(
        {
            401: "No or unknown credentials.",
            403: "Assigning a plan is for staff only.",
            404: "The client has no plan, or it is not the caller's client.",
            422: "The body is not valid, names a plan that does not exist (unknown-plan), "
            "or its calendar override does not make a valid calendar.",
            429: "Too many calls with this client key; see Retry-After.",
        }
    ),
)

ClientId = Annotated[Identifier, Path()]


def assignment_out(assignment: ClientPlan) -> PlanAssignmentOut:
    return PlanAssignmentOut.model_validate(assignment, from_attributes=True)


@router.put("/{client_id}/plan", response_model=PlanAssignmentOut)
async def assign_plan(
    client_id: ClientId, body: PlanAssignmentIn, session: SessionDep, _: StaffPrincipal
) -> PlanAssignmentOut:
    """Measure the client's tickets against this plan, in the client's calendar.

    Tickets the client opens from now on get the plan's current version. Open tickets no
    plan measured yet start their clocks now, from the assignment time (first response
    only if still `new`). Tickets already measured keep their plan version; a changed
    calendar override moves their running clocks' due times.
    """
    assignment = await use_cases.assign_plan(
        session,
        client_id=client_id,
        plan_id=body.plan_id,
        calendar_override=body.calendar_override.as_json() if body.calendar_override else None,
    )
    return assignment_out(assignment)


@router.delete("/{client_id}/plan", status_code=204)
async def unassign_plan(client_id: ClientId, session: SessionDep, _: StaffPrincipal) -> None:
    """The client has no plan any more: new tickets get no clocks, and the clocks still
    counting stop as `cancelled`."""
    await use_cases.unassign_plan(session, client_id=client_id)


@router.get("/{client_id}/plan", response_model=PlanAssignmentOut)
async def get_client_plan(
    client_id: ClientId, session: SessionDep, principal: CurrentPrincipal
) -> PlanAssignmentOut:
    assignment = await use_cases.get_client_plan(session, client_id=client_id, viewer=principal)
    return assignment_out(assignment)
