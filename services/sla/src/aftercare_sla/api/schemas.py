"""HTTP request and response bodies of the sla API (not the ORM, not the event contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from aftercare_shared.events.catalog import (
    TICKET_STATUSES,
    Priority,
    ResolutionOn,
    SlaMetric,
    SlaOutcome,
    TicketStatus,
)
from aftercare_shared.patch import PatchBody
from aftercare_sla.domain.clocks import ClockState
from aftercare_sla.domain.ticket_lifecycle import DEFAULT_PAUSE_ON, DONE_STATUSES, OnReopen

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
    next_response_minutes: TargetMinutes | None = Field(
        default=None,
        description="Business minutes after a public client reply until the next public "
        "staff reply is due; absent or null: no next-response promise for this priority.",
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


PlanName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _only_open_statuses(statuses: list[TicketStatus]) -> list[TicketStatus]:
    done = sorted(set(statuses) & DONE_STATUSES)
    if done:
        raise ValueError(f"a resolved or closed ticket's clocks are stopped, not paused: {done}")
    return statuses


# Statuses a plan may pause resolution in (not resolved or closed: those stop the clock).
PauseOn = Annotated[
    list[TicketStatus], Field(max_length=len(TICKET_STATUSES)), AfterValidator(_only_open_statuses)
]
AtRiskRatio = Annotated[float, Field(gt=0, lt=1, strict=True)]

_PAUSE_ON_DESCRIPTION = (
    "Ticket statuses in which the resolution clock is paused (business time not counted)."
)
_ON_REOPEN_DESCRIPTION = (
    "What a reopened ticket's resolution clock does: `resume` carries on where it stopped "
    "(the closed stretch not counted), `restart` starts a new cycle with the full target."
)


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PlanName
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
    at_risk_ratio: AtRiskRatio = Field(
        default=0.75,
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
    pause_on: PauseOn = Field(
        default_factory=lambda: list(DEFAULT_PAUSE_ON), description=_PAUSE_ON_DESCRIPTION
    )
    on_reopen: OnReopen = Field(default="resume", description=_ON_REOPEN_DESCRIPTION)


class PlanUpdate(PatchBody):
    """A new version of the plan: the fields sent replace the current ones.

    Tickets already measured keep their version's targets and rules; a changed calendar
    moves the due times of every running clock of the plan (``sla.due_changed``).
    """

    clearable: ClassVar[frozenset[str]] = frozenset({"calendar"})

    name: PlanName | None = None
    targets: PlanTargets | None = None
    calendar: dict[str, Any] | None = Field(
        default=None, description="The new calendar; null: 24x7 from now on."
    )
    at_risk_ratio: AtRiskRatio | None = None
    resolution_on: ResolutionOn | None = None
    resolution_environment: EnvironmentName | None = None
    pause_on: PauseOn | None = Field(default=None, description=_PAUSE_ON_DESCRIPTION)
    on_reopen: OnReopen | None = Field(default=None, description=_ON_REOPEN_DESCRIPTION)


class PlanOut(BaseModel):
    id: str
    name: str
    version: int = Field(description="The version new tickets get; every PATCH adds one.")
    targets: PlanTargets
    calendar: dict[str, Any] | None
    at_risk_ratio: float
    resolution_on: ResolutionOn
    resolution_environment: str
    pause_on: list[TicketStatus]
    on_reopen: OnReopen
    created_at: datetime
    updated_at: datetime | None


class PlanVersionOut(BaseModel):
    plan_id: str
    version: int
    name: str
    targets: PlanTargets
    calendar: dict[str, Any] | None
    at_risk_ratio: float
    resolution_on: ResolutionOn
    resolution_environment: str
    pause_on: list[TicketStatus]
    on_reopen: OnReopen
    created_at: datetime = Field(description="When this version was made.")


class CalendarOverride(BaseModel):
    """The client's own place in the world over its plan calendar's; hours stay the plan's
    (read in the client's time zone)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(default=None, examples=["America/New_York"])
    holidays: list[str] | None = Field(default=None, description="ISO dates (YYYY-MM-DD).")
    holiday_country: str | None = Field(default=None, examples=["US"])
    holiday_subdivision: str | None = Field(default=None, examples=["NY"])

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class PlanAssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: Identifier
    calendar_override: CalendarOverride | None = Field(
        default=None,
        description="Time zone and holidays of the client, over the plan calendar's; "
        "absent: the plan calendar as is.",
    )


class PlanAssignmentOut(BaseModel):
    client_id: str
    plan_id: str
    assigned_at: datetime
    calendar_override: dict[str, Any] | None


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
    outcome: SlaOutcome | None = Field(
        description="How a stopped clock ended; `met_by_resolution`: resolved by a fix "
        "before anyone answered, counted as met but reported apart."
    )
    cycle: int = Field(
        description="Which cycle of the metric (next_response: one per client reply)."
    )
    elapsed_business_seconds: int
    remaining_business_seconds: int = Field(description="Negative once the target is exceeded.")


class TicketSlaOut(BaseModel):
    ticket_id: str
    client_id: str
    plan_id: str | None = Field(description="null: the client had no plan when it was created.")
    priority: Priority
    status: TicketStatus
    clocks: list[ClockOut]
