"""Which plan covers a client: staff assign it; a client key may read its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.problems import PROBLEM_BASE_URI, Problem
from aftercare_shared.sessions import SessionDep
from aftercare_sla import use_cases
from aftercare_sla.api.schemas import Identifier, PlanAssignmentIn, PlanAssignmentOut
from aftercare_sla.models import ClientPlan

router = APIRouter(prefix="/v1/clients", tags=["clients"])

ClientId = Annotated[Identifier, Path()]


def assignment_out(assignment: ClientPlan) -> PlanAssignmentOut:
    return PlanAssignmentOut.model_validate(assignment, from_attributes=True)


@router.put("/{client_id}/plan", response_model=PlanAssignmentOut)
async def assign_plan(
    client_id: ClientId, body: PlanAssignmentIn, session: SessionDep, _: StaffPrincipal
) -> PlanAssignmentOut:
    """Tickets the client opens from now on are measured against this plan."""
    try:
        assignment = await use_cases.assign_plan(session, client_id=client_id, plan_id=body.plan_id)
    except use_cases.PlanNotFoundError as error:
        # 422, not 404: the URL is fine, the plan the body names is not.
        raise Problem(
            422,
            f"Plan {error.plan_id!r} does not exist.",
            problem_type=PROBLEM_BASE_URI + "unknown-plan",
            title="Unknown plan",
        ) from error
    return assignment_out(assignment)


@router.get("/{client_id}/plan", response_model=PlanAssignmentOut)
async def get_client_plan(
    client_id: ClientId, session: SessionDep, principal: CurrentPrincipal
) -> PlanAssignmentOut:
    assignment = (
        await use_cases.get_client_plan(session, client_id=client_id)
        if principal.may_see_client(client_id)
        else None  # another client's assignment is "not found": existence must not leak
    )
    if assignment is None:
        raise Problem(404, f"Client {client_id!r} has no plan.")
    return assignment_out(assignment)
