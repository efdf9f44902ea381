"""Plans: SLA targets per priority, a business calendar and the at-risk point (staff only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from aftercare_shared.auth.dependencies import StaffPrincipal
from aftercare_shared.problems import PROBLEM_BASE_URI, Problem
from aftercare_shared.sessions import SessionDep
from aftercare_sla import use_cases
from aftercare_sla.api.schemas import Identifier, PlanCreate, PlanList, PlanOut
from aftercare_sla.domain import CalendarError
from aftercare_sla.models import Plan

router = APIRouter(prefix="/v1/plans", tags=["plans"])


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut.model_validate(plan, from_attributes=True)


def plan_not_found(plan_id: str) -> Problem:
    return Problem(404, f"Plan {plan_id!r} does not exist.")


@router.post("", status_code=201, response_model=PlanOut)
async def create_plan(body: PlanCreate, session: SessionDep, _: StaffPrincipal) -> PlanOut:
    try:
        plan = await use_cases.create_plan(
            session,
            name=body.name,
            targets=body.targets.model_dump(),
            calendar=body.calendar,
            at_risk_ratio=body.at_risk_ratio,
        )
    except CalendarError as error:
        # Same shape as the other validation problems, so clients handle one format.
        raise Problem(
            422,
            f"The calendar is not valid: {error}",
            problem_type=PROBLEM_BASE_URI + "validation-failed",
            title="Validation failed",
            errors=[{"location": "body.calendar", "message": str(error), "kind": "calendar"}],
        ) from error
    return plan_out(plan)


@router.get("", response_model=PlanList)
async def list_plans(
    session: SessionDep,
    _: StaffPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PlanList:
    """Oldest first. Plans are never changed or deleted, so offsets neither skip nor repeat."""
    plans = await use_cases.list_plans(session, limit=limit, offset=offset)
    return PlanList(items=[plan_out(plan) for plan in plans])


@router.get("/{plan_id}", response_model=PlanOut)
async def get_plan(
    plan_id: Annotated[Identifier, Path()], session: SessionDep, _: StaffPrincipal
) -> PlanOut:
    plan = await use_cases.get_plan(session, plan_id=plan_id)
    if plan is None:
        raise plan_not_found(plan_id)
    return plan_out(plan)
