"""Plans: SLA targets per priority, a business calendar and the at-risk point (staff only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path

from aftercare_shared.auth.dependencies import StaffPrincipal
from aftercare_shared.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    PageCursor,
    PageLimit,
    decode_cursor,
    page_of,
)
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep
from aftercare_sla import use_cases
from aftercare_sla.api.schemas import Identifier, PlanCreate, PlanOut, PlanUpdate, PlanVersionOut
from aftercare_sla.models import Plan, PlanVersion

router = APIRouter(
    prefix="/v1/plans",
    tags=["plans"],
    responses=problem_responses(
        {
            401: "No or unknown credentials.",
            403: "Plans are for staff only.",
            404: "No such plan.",
            422: "The body, the calendar or the cursor is not valid; nothing was stored.",
            429: "Too many calls with this client key; see Retry-After.",
        }
    ),
)


PlanId = Annotated[Identifier, Path()]


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut.model_validate(plan, from_attributes=True)


def version_out(version: PlanVersion) -> PlanVersionOut:
    return PlanVersionOut.model_validate(version, from_attributes=True)


@router.post("", status_code=201, response_model=PlanOut)
async def create_plan(body: PlanCreate, session: SessionDep, _: StaffPrincipal) -> PlanOut:
    plan = await use_cases.create_plan(
        session,
        name=body.name,
        targets=body.targets.model_dump(),
        calendar=body.calendar,
        at_risk_ratio=body.at_risk_ratio,
        resolution_on=body.resolution_on,
        resolution_environment=body.resolution_environment,
        pause_on=body.pause_on,
        on_reopen=body.on_reopen,
    )
    return plan_out(plan)


@router.get("", response_model=Page[PlanOut])
async def list_plans(
    session: SessionDep,
    _: StaffPrincipal,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[PlanOut]:
    """Oldest first."""
    after = decode_cursor(cursor, datetime, str)
    plans = await use_cases.list_plans(session, limit=limit + 1, after=after)
    return page_of(plans, limit=limit, key=lambda plan: (plan.created_at, plan.id), item=plan_out)


@router.get("/{plan_id}", response_model=PlanOut)
async def get_plan(plan_id: PlanId, session: SessionDep, _: StaffPrincipal) -> PlanOut:
    return plan_out(await use_cases.get_plan(session, plan_id=plan_id))


@router.patch("/{plan_id}", response_model=PlanOut)
async def change_plan(
    plan_id: PlanId, body: PlanUpdate, session: SessionDep, _: StaffPrincipal
) -> PlanOut:
    """A new version of the plan; tickets already measured keep theirs."""
    changes = body.changes()
    if "targets" in changes:
        changes["targets"] = body.targets.model_dump() if body.targets else None
    plan = await use_cases.change_plan(
        session, plan_id=plan_id, changes=use_cases.PlanChanges(**changes)
    )
    return plan_out(plan)


@router.get("/{plan_id}/versions", response_model=Page[PlanVersionOut])
async def list_plan_versions(
    plan_id: PlanId,
    session: SessionDep,
    _: StaffPrincipal,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[PlanVersionOut]:
    """Newest version first."""
    after = decode_cursor(cursor, int)
    versions = await use_cases.list_plan_versions(
        session, plan_id=plan_id, limit=limit + 1, after=after
    )
    return page_of(versions, limit=limit, key=lambda version: (version.version,), item=version_out)
