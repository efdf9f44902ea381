"""HTTP request and response bodies of notify's API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from aftercare_notify.domain.statuses import DeliveryStatus, EndpointStatus
from aftercare_shared.patch import PatchBody

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=500)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="Where to POST events: http(s), public address, no credentials.")
    event_types: list[Pattern] = Field(
        min_length=1,
        max_length=100,
        description="Short types (`ticket.created`), entity wildcards (`sla.*`) or `*`.",
    )
    channel: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        default="webhook", description="Only `webhook` for now."
    )
    client_id: ClientId | None = Field(
        default=None, description="Only this client's events; visible to its API keys."
    )
    description: Description | None = None


class EndpointPatch(PatchBody):
    """Fields left out keep their value; ``description: null`` clears the description."""

    clearable: ClassVar[frozenset[str]] = frozenset({"description"})

    url: Url | None = None
    event_types: list[Pattern] | None = Field(default=None, min_length=1, max_length=100)
    description: Description | None = None
    status: EndpointStatus | None = Field(
        default=None, description="`disabled` stops deliveries; `enabled` resumes new ones."
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    channel: str
    client_id: str | None
    description: str | None
    status: EndpointStatus
    disabled_reason: str | None
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="While in the future, deliveries are signed with the old secret too."
    )
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="`whsec_…` signing secret (Standard Webhooks).")


class EndpointSecret(BaseModel):
    endpoint_id: str
    secret: str
    previous_secret_expires_at: datetime | None


class AttemptOut(BaseModel):
    attempt_number: int
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int | None
    response_body: str | None = Field(description="The start of the response body (truncated).")
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    message_id: str = Field(description="The CloudEvent id, sent as `webhook-id`.")
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    attempts: list[AttemptOut]


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="Replay messages received at or after this time.")


class ReplayAccepted(BaseModel):
    endpoint_id: str
    since: datetime
    enqueued: int = Field(description="Deliveries scheduled (already-pending ones excluded).")
