"""Payload contracts for every event type: one definition for producer and consumer.

Evolution rule: within ``.v1`` only additive, optional fields; a breaking change is a
new type. Unknown fields from a newer producer are ignored by older consumers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict

Severity = Literal["critical", "high", "medium", "low"]
Priority = Literal["P1", "P2", "P3", "P4"]
TicketStatus = Literal["new", "triaged", "in_progress", "waiting_on_client", "resolved", "closed"]
SlaMetric = Literal["first_response", "resolution"]
ReleaseKind = Literal["feature", "security", "bugfix", "performance", "maintenance"]
CommentAuthorKind = Literal["staff", "client"]

# The same names as tuples, for SQL check constraints, query parameters and loops.
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
TICKET_STATUSES: tuple[TicketStatus, ...] = get_args(TicketStatus)
SLA_METRICS: tuple[SlaMetric, ...] = get_args(SlaMetric)
RELEASE_KINDS: tuple[ReleaseKind, ...] = get_args(ReleaseKind)
COMMENT_AUTHOR_KINDS: tuple[CommentAuthorKind, ...] = get_args(CommentAuthorKind)


class EventPayload(BaseModel):
    """Base of every payload; ``event_type`` is the short name (``ticket.created``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    event_type: ClassVar[str]


# --- clients -------------------------------------------------------------------------


class ClientCreated(EventPayload):
    event_type: ClassVar[str] = "client.created"
    client_id: str
    name: str
    created_at: datetime


class ClientUpdated(EventPayload):
    event_type: ClassVar[str] = "client.updated"
    client_id: str
    name: str
    updated_at: datetime


class ClientApiKeyIssued(EventPayload):
    """Lets every service verify a client's key without reading intake's tables."""

    event_type: ClassVar[str] = "client.api_key_issued"
    api_key_id: str
    client_id: str
    key_hash: str
    prefix: str
    created_at: datetime


class ClientApiKeyRevoked(EventPayload):
    event_type: ClassVar[str] = "client.api_key_revoked"
    api_key_id: str
    client_id: str
    revoked_at: datetime


# --- tickets -------------------------------------------------------------------------


class TicketCreated(EventPayload):
    event_type: ClassVar[str] = "ticket.created"
    ticket_id: str
    client_id: str
    title: str
    severity: Severity
    priority: Priority
    status: TicketStatus
    kind: str | None = None
    environment: str | None = None
    release: str | None = None
    fingerprint: str
    created_at: datetime
    split_from_ticket_id: str | None = None
    """Set when staff split this ticket's fingerprint off another ticket (unmerge)."""


class TicketUpdated(EventPayload):
    event_type: ClassVar[str] = "ticket.updated"
    ticket_id: str
    client_id: str
    status: TicketStatus
    priority: Priority
    changed: list[str]
    updated_at: datetime


class TicketCommented(EventPayload):
    event_type: ClassVar[str] = "ticket.commented"
    ticket_id: str
    client_id: str
    comment_id: str
    author_kind: CommentAuthorKind
    created_at: datetime


class TicketOccurred(EventPayload):
    """More reports joined an existing ticket (grouped by fingerprint).

    Coalesced: at most one per ticket per interval (intake's
    ``INTAKE_OCCURRENCE_EVENT_INTERVAL_SECONDS``), so a storm does not flood subscribers.
    """

    event_type: ClassVar[str] = "ticket.occurred"
    ticket_id: str
    client_id: str
    occurrences: int
    """The ticket's exact occurrence count so far."""
    occurred_at: datetime
    """When the latest occurrence this event counts arrived."""
    new_occurrences: int | None = None
    """Occurrences since the previous ``ticket.occurred`` (or ``ticket.created``)."""
    since: datetime | None = None
    """When that previous announcement went out."""


class TicketResolved(EventPayload):
    event_type: ClassVar[str] = "ticket.resolved"
    ticket_id: str
    client_id: str
    resolved_at: datetime
    release_id: str | None = None
    resolution: str | None = None


class TicketReopened(EventPayload):
    event_type: ClassVar[str] = "ticket.reopened"
    ticket_id: str
    client_id: str
    reopened_at: datetime
    status: TicketStatus = "triaged"
    """The status the ticket reopened to (older producers always reopened to triaged)."""
    reason: str | None = None
    """``manual`` (staff) or ``regression`` (the bug recurred in a version at or after its fix,
    or in one that cannot be told apart); absent from older producers."""
    release: str | None = None
    """For a regression: the release the recurring occurrence came from."""
    fixed_in: str | None = None
    """For a regression: ``product@version`` of the release that had fixed it, if known."""


class TicketClosed(EventPayload):
    event_type: ClassVar[str] = "ticket.closed"
    ticket_id: str
    client_id: str
    closed_at: datetime
    reason: str | None = None
    """``merged`` when the ticket was folded into another; absent for a plain close."""
    merged_into_ticket_id: str | None = None


class TicketMerged(EventPayload):
    """Staff folded other tickets into this one; each of them also gets ``ticket.closed``."""

    event_type: ClassVar[str] = "ticket.merged"
    ticket_id: str
    client_id: str
    merged_ticket_ids: list[str]
    occurrences: int
    """The ticket's occurrence count with theirs added."""
    merged_at: datetime


# --- sla -----------------------------------------------------------------------------


class SlaClockEvent(EventPayload):
    """Fields every SLA clock event carries."""

    ticket_id: str
    client_id: str
    metric: SlaMetric
    plan_id: str | None
    priority: Priority
    started_at: datetime
    due_at: datetime
    occurred_at: datetime


class SlaClockStarted(SlaClockEvent):
    event_type: ClassVar[str] = "sla.clock_started"


class SlaAtRisk(SlaClockEvent):
    event_type: ClassVar[str] = "sla.at_risk"


class SlaBreached(SlaClockEvent):
    event_type: ClassVar[str] = "sla.breached"


class SlaMet(SlaClockEvent):
    event_type: ClassVar[str] = "sla.met"


class SlaPaused(SlaClockEvent):
    event_type: ClassVar[str] = "sla.paused"


class SlaResumed(SlaClockEvent):
    event_type: ClassVar[str] = "sla.resumed"


# --- releases ------------------------------------------------------------------------


class ReleaseCreated(EventPayload):
    event_type: ClassVar[str] = "release.created"
    release_id: str
    product: str
    version: str
    kind: ReleaseKind
    ticket_ids: list[str]
    created_at: datetime


class ReleasePublished(EventPayload):
    event_type: ClassVar[str] = "release.published"
    release_id: str
    product: str
    version: str
    kind: ReleaseKind
    notes: str | None = None
    ticket_ids: list[str]
    published_at: datetime


# --- notifications -------------------------------------------------------------------


class NotificationDelivered(EventPayload):
    event_type: ClassVar[str] = "notification.delivered"
    delivery_id: str
    endpoint_id: str
    message_id: str
    message_type: str
    attempts: int
    status_code: int
    delivered_at: datetime


class NotificationFailed(EventPayload):
    event_type: ClassVar[str] = "notification.failed"
    delivery_id: str
    endpoint_id: str
    message_id: str
    message_type: str
    attempts: int
    last_error: str
    failed_at: datetime


class NotificationEndpointDisabled(EventPayload):
    event_type: ClassVar[str] = "notification.endpoint_disabled"
    endpoint_id: str
    reason: str
    disabled_at: datetime


PAYLOAD_TYPES: tuple[type[EventPayload], ...] = (
    ClientCreated,
    ClientUpdated,
    ClientApiKeyIssued,
    ClientApiKeyRevoked,
    TicketCreated,
    TicketUpdated,
    TicketCommented,
    TicketOccurred,
    TicketResolved,
    TicketReopened,
    TicketClosed,
    TicketMerged,
    SlaClockStarted,
    SlaAtRisk,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaResumed,
    ReleaseCreated,
    ReleasePublished,
    NotificationDelivered,
    NotificationFailed,
    NotificationEndpointDisabled,
)

# Events that exist only so services can keep read models (they carry key digests): they
# stay on Kafka for services and are never offered to webhook subscribers.
INTERNAL_SHORT_TYPES: frozenset[str] = frozenset(
    {ClientApiKeyIssued.event_type, ClientApiKeyRevoked.event_type}
)

PAYLOADS_BY_SHORT_TYPE: dict[str, type[EventPayload]] = {
    payload.event_type: payload for payload in PAYLOAD_TYPES
}

PayloadT = TypeVar("PayloadT", bound=EventPayload)


def payload_json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every payload keyed by full event type (for docs and contracts)."""
    return {
        f"aftercare.{payload.event_type}.v1": payload.model_json_schema()
        for payload in PAYLOAD_TYPES
    }
