"""Request and response bodies of the monitor endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aftercare_intake.monitors.evaluation import MonitorState
from aftercare_intake.monitors.probes import valid_expected_status
from aftercare_intake.monitors.schedule import IntervalUnit
from aftercare_intake.monitors.vocabulary import (
    CheckInSource,
    CheckInStatus,
    HttpMethod,
    ProbeOutcome,
    ReportedStatus,
)
from aftercare_shared.events.catalog import MonitorKind, Priority
from aftercare_shared.patch import PatchBody

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class CrontabSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["crontab"]
    value: str = Field(min_length=1, max_length=200, examples=["0 3 * * *"])


class IntervalSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["interval"]
    value: int = Field(ge=1, le=100_000)
    unit: IntervalUnit


ScheduleIn = Annotated[CrontabSchedule | IntervalSchedule, Field(discriminator="type")]


def _checked_status(value: str | None) -> str | None:
    if value is not None and not valid_expected_status(value):
        raise ValueError("expected_status is a class like 2xx or one code like 200")
    return value


class MonitorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=SLUG_PATTERN)
    kind: MonitorKind
    environment: str | None = Field(default=None, max_length=100)
    schedule: ScheduleIn
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    checkin_margin_minutes: int = Field(default=1, ge=0, le=10_080)
    max_runtime_minutes: int = Field(default=30, ge=1, le=10_080)
    failure_threshold: int = Field(default=1, ge=1, le=100)
    recovery_threshold: int = Field(default=1, ge=1, le=100)
    priority: Priority = "P2"
    paused: bool = False
    url: str | None = Field(default=None, max_length=2_000)
    method: HttpMethod = "GET"
    expected_status: str = Field(default="2xx", max_length=3)
    body_contains: str | None = Field(default=None, min_length=1, max_length=1_000)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    certificate_expiry_days: int = Field(default=14, ge=0, le=365)
    follow_redirects: bool = False

    _status = field_validator("expected_status")(_checked_status)


class MonitorUpdate(PatchBody):
    model_config = ConfigDict(str_strip_whitespace=True)
    clearable: ClassVar[frozenset[str]] = frozenset({"environment", "body_contains"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)
    environment: str | None = Field(default=None, max_length=100)
    schedule: ScheduleIn | None = None
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    checkin_margin_minutes: int | None = Field(default=None, ge=0, le=10_080)
    max_runtime_minutes: int | None = Field(default=None, ge=1, le=10_080)
    failure_threshold: int | None = Field(default=None, ge=1, le=100)
    recovery_threshold: int | None = Field(default=None, ge=1, le=100)
    priority: Priority | None = None
    paused: bool | None = None
    url: str | None = Field(default=None, max_length=2_000)
    method: HttpMethod | None = None
    expected_status: str | None = Field(default=None, max_length=3)
    body_contains: str | None = Field(default=None, min_length=1, max_length=1_000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=60)
    certificate_expiry_days: int | None = Field(default=None, ge=0, le=365)
    follow_redirects: bool | None = None

    _status = field_validator("expected_status")(_checked_status)

    def field_changes(self) -> dict[str, Any]:
        """The sent fields in the use case's names (the schedule spelled out)."""
        changes = self.changes()
        schedule: CrontabSchedule | IntervalSchedule | None = changes.pop("schedule", None)
        if schedule is not None:
            changes["schedule_type"] = schedule.type
            changes["schedule_value"] = schedule.value
            changes["schedule_unit"] = getattr(schedule, "unit", None)  # crontabs have none
        return changes


class CheckInCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ReportedStatus
    check_in_id: str | None = Field(default=None, min_length=1, max_length=100)
    duration_ms: int | None = Field(default=None, ge=0, le=10**12)
    exit_status: int | None = Field(default=None, ge=0, le=255)
    environment: str | None = Field(default=None, max_length=100)


class CheckInOut(BaseModel):
    id: str
    status: CheckInStatus
    source: CheckInSource
    check_in_id: str | None
    exit_status: int | None
    duration_ms: int | None
    environment: str | None
    created_at: datetime


class ProbeOut(BaseModel):
    id: str
    started_at: datetime
    outcome: ProbeOutcome
    status_code: int | None
    latency_ms: float | None
    error: str | None
    certificate_expires_at: datetime | None


class ScheduleOut(BaseModel):
    type: Literal["crontab", "interval"]
    value: str | int
    unit: IntervalUnit | None = None


class MonitorOut(BaseModel):
    id: str
    client_id: str
    name: str
    slug: str
    kind: MonitorKind
    environment: str | None
    schedule: ScheduleOut
    timezone: str
    checkin_margin_minutes: int
    max_runtime_minutes: int
    failure_threshold: int
    recovery_threshold: int
    priority: Priority
    paused: bool
    url: str | None
    method: HttpMethod
    expected_status: str
    body_contains: str | None
    timeout_seconds: float
    certificate_expiry_days: int
    follow_redirects: bool
    state: MonitorState
    next_expected_at: datetime | None
    last_check_in_at: datetime | None
    last_check_ins: list[CheckInOut]
    open_ticket_id: str | None
    ping_url: str | None
    """The secret ping URL (staff only; a client key sees null)."""
    created_at: datetime
    updated_at: datetime


class UptimeIncident(BaseModel):
    id: str
    ticket_id: str | None
    reason: str
    detail: str | None
    started_at: datetime
    ended_at: datetime | None
    downtime_seconds: float
    """The part of the incident inside the period."""


class UptimeReport(BaseModel):
    monitor_id: str
    period_from: datetime = Field(serialization_alias="from")
    period_to: datetime = Field(serialization_alias="to")
    availability_percent: float
    """100 * (1 - time in incidents within the period / the period)."""
    downtime_seconds: float
    probes: int
    probes_up: int
    incidents: list[UptimeIncident]
