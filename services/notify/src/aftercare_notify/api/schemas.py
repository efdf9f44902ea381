"""HTTP request and response bodies of notify's API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from aftercare_notify.domain.grouping import (
    GROUP_FIELDS,
    MAX_GROUP_INTERVAL_SECONDS,
    MAX_GROUP_MAX_EVENTS,
    MAX_GROUP_WAIT_SECONDS,
    GroupField,
)
from aftercare_notify.domain.quiet_hours import DeliveryMode
from aftercare_notify.domain.statuses import DeliveryStatus, EndpointStatus
from aftercare_shared.events.catalog import Priority
from aftercare_shared.patch import PatchBody

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=500)]
Address = Annotated[str, StringConstraints(min_length=3, max_length=320)]
Environment = Annotated[str, StringConstraints(min_length=1, max_length=100)]
GroupBy = Annotated[list[GroupField], Field(max_length=len(GROUP_FIELDS))]
GroupWait = Annotated[int, Field(ge=0, le=MAX_GROUP_WAIT_SECONDS)]
GroupInterval = Annotated[int, Field(ge=1, le=MAX_GROUP_INTERVAL_SECONDS)]
GroupMaxEvents = Annotated[int, Field(ge=1, le=MAX_GROUP_MAX_EVENTS)]

GROUP_BY_DESCRIPTION = (
    "Grouping (digests): events with equal values of these fields "
    f"({', '.join(f'`{name}`' for name in GROUP_FIELDS)}) are sent together as one "
    "digest message; `[]` groups all of the endpoint's events. Absent: one message per event."
)
GROUP_WAIT_DESCRIPTION = "With `group_by`: seconds a new group waits before its first digest (30)."
GROUP_INTERVAL_DESCRIPTION = (
    "With `group_by`: least seconds between two digests of one group (300)."
)
GROUP_MAX_EVENTS_DESCRIPTION = "With `group_by`: most events listed in one digest message (100)."


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = Field(
        default=None,
        description="`webhook` and `slack`: where to POST (http(s), public address, no "
        "credentials); for `slack` a Slack-compatible incoming-webhook URL.",
    )
    address: Address | None = Field(default=None, description="`email`: the recipient.")
    event_types: list[Pattern] = Field(
        min_length=1,
        max_length=100,
        description="Short types (`ticket.created`), entity wildcards (`sla.*`) or `*`.",
    )
    channel: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        default="webhook", description="`webhook`, `slack` or `email`."
    )
    client_id: ClientId | None = Field(
        default=None, description="Only this client's events; visible to its API keys."
    )
    client_ids: list[ClientId] | None = Field(
        default=None, min_length=1, max_length=100, description="Only these clients' events."
    )
    min_priority: Priority | None = Field(
        default=None,
        description="Only events at least this urgent (`P2`: P1 and P2); events without a "
        "priority pass.",
    )
    environments: list[Environment] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="Only events from these environments; events without one pass.",
    )
    deliver: DeliveryMode = Field(
        default="always",
        description="`business_hours`: events arriving while the client's plan calendar is "
        "closed are held and delivered when it opens.",
    )
    except_priorities: list[Priority] | None = Field(
        default=None,
        max_length=4,
        description="With `business_hours`: priorities delivered at once anyway (e.g. `P1`).",
    )
    group_by: GroupBy | None = Field(default=None, description=GROUP_BY_DESCRIPTION)
    group_wait_seconds: GroupWait | None = Field(default=None, description=GROUP_WAIT_DESCRIPTION)
    group_interval_seconds: GroupInterval | None = Field(
        default=None, description=GROUP_INTERVAL_DESCRIPTION
    )
    group_max_events: GroupMaxEvents | None = Field(
        default=None, description=GROUP_MAX_EVENTS_DESCRIPTION
    )
    description: Description | None = None


class EndpointPatch(PatchBody):
    """Fields left out keep their value; ``description: null`` clears the description."""

    clearable: ClassVar[frozenset[str]] = frozenset(
        {
            "description",
            "client_ids",
            "min_priority",
            "environments",
            "except_priorities",
            "group_by",
            "group_wait_seconds",
            "group_interval_seconds",
            "group_max_events",
        }
    )

    deliver: DeliveryMode | None = None
    except_priorities: list[Priority] | None = Field(default=None, max_length=4)
    group_by: GroupBy | None = Field(default=None, description=GROUP_BY_DESCRIPTION)
    group_wait_seconds: GroupWait | None = Field(default=None, description=GROUP_WAIT_DESCRIPTION)
    group_interval_seconds: GroupInterval | None = Field(
        default=None, description=GROUP_INTERVAL_DESCRIPTION
    )
    group_max_events: GroupMaxEvents | None = Field(
        default=None, description=GROUP_MAX_EVENTS_DESCRIPTION
    )

    url: Url | None = None
    address: Address | None = None
    client_ids: list[ClientId] | None = Field(default=None, min_length=1, max_length=100)
    min_priority: Priority | None = None
    environments: list[Environment] | None = Field(default=None, min_length=1, max_length=50)
    event_types: list[Pattern] | None = Field(default=None, min_length=1, max_length=100)
    description: Description | None = None
    status: EndpointStatus | None = Field(
        default=None, description="`disabled` stops deliveries; `enabled` resumes new ones."
    )


class EndpointOut(BaseModel):
    id: str
    url: str | None
    address: str | None
    event_types: list[str]
    channel: str
    client_id: str | None
    client_ids: list[str] | None
    min_priority: Priority | None
    environments: list[str] | None
    deliver: DeliveryMode
    except_priorities: list[Priority] | None
    group_by: list[GroupField] | None
    group_wait_seconds: int | None
    group_interval_seconds: int | None
    group_max_events: int | None
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
