"""HTTP request and response bodies of the sla API (not the ORM, not the event contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from aftercare_shared.events.catalog import Priority, ResolutionOn, SlaMetric, TicketStatus
from aftercare_sla.domain.clocks import ClockState

MAX_TARGET_MINUTES = 525_600
"""A year: a longer target is a typo, and it keeps deadline arithmetic bounded."""

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# Environment names as releases accepts them from deployment pipelines (lower case).
EnvironmentName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
]
TargetMinutes = Annotated[int, Field(strict=True, gt=0, le=MAX_TARGET_MINUTES)]


class MetricTargets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response_minutes: TargetMinutes = Field(
        description="Business minutes until staff must first respond."
    )
    resolution_minutes: TargetMinutes = Field(
        description="Business minutes until the ticket must be resolved."
    )

    @model_validator(mode="after")
    def _response_before_resolution(self) -> MetricTargets:
        if self.first_response_minutes > self.resolution_minutes:
            raise ValueError("first_response_minutes must not exceed resolution_minutes")
        return self


class PlanTargets(BaseModel):
    """Targets for every priority: a plan that forgets one would leave tickets unmeasured.

    One field per catalog priority (``PRIORITIES``), spelled out so the OpenAPI document
    shows each; a unit test keeps the two in step.
    """

    model_config = ConfigDict(extra="forbid")

    P1: MetricTargets
    P2: MetricTargets
    P3: MetricTargets
    P4: MetricTargets


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    targets: PlanTargets
    calendar: dict[str, Any] | None = Field(
        default=None,
        description="Business calendar; absent or null means 24x7. An IANA `timezone`, "
        'weekly `hours` as local `["HH:MM", "HH:MM"]` ranges per weekday (`mon`..`sun`, '
        "missing = closed), explicit `holidays`, optional `holiday_country` / "
        "`holiday_subdivision` public holidays, and per-date `overrides` (`[]` = closed). "
        'The full rules are in docs/architecture.md, section "Business calendar and SLA '
        'clocks".',
        json_schema_extra={
            "example": {
                "timezone": "Europe/London",
                "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": ["2026-12-25"],
                "holiday_country": "GB",
                "holiday_subdivision": "ENG",
                "overrides": {"2026-12-24": [["09:00", "12:00"]]},
            }
        },
    )
    at_risk_ratio: float = Field(
        default=0.75,
        gt=0,
        lt=1,
        strict=True,
        description="Share of a target after which the clock is announced at risk.",
    )
    resolution_on: ResolutionOn = Field(
        default="release",
        description="When a ticket a release fixes is resolved: `release` (when the release "
        "is published) or `deploy` (when a succeeded deployment of that release, or of a "
        "later version of the product, reaches the client's `resolution_environment`; until "
        "then the ticket shows `fix_status: awaiting_deploy` and its resolution clock runs).",
    )
    resolution_environment: EnvironmentName = Field(
        default="production",
        description="With `resolution_on: deploy`: the client environment the deployment "
        "must reach (lower case, as deployments name it).",
        examples=["production"],
    )


class PlanOut(BaseModel):
    id: str
    name: str
    targets: PlanTargets
    calendar: dict[str, Any] | None
    at_risk_ratio: float
    resolution_on: ResolutionOn
    resolution_environment: str
    created_at: datetime


class PlanAssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: Identifier


class PlanAssignmentOut(BaseModel):
    client_id: str
    plan_id: str
    assigned_at: datetime


class ClockOut(BaseModel):
    metric: SlaMetric
    state: ClockState
    target_seconds: int = Field(description="The target in business seconds.")
    started_at: datetime
    due_at: datetime = Field(
        description="When the target is reached if the clock keeps running; fixed once breached."
    )
    at_risk_at: datetime
    at_risk_reached_at: datetime | None
    paused_at: datetime | None
    stopped_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    elapsed_business_seconds: int
    remaining_business_seconds: int = Field(description="Negative once the target is exceeded.")


class TicketSlaOut(BaseModel):
    ticket_id: str
    client_id: str
    plan_id: str | None = Field(description="null: the client had no plan when it was created.")
    priority: Priority
    status: TicketStatus
    clocks: list[ClockOut]
