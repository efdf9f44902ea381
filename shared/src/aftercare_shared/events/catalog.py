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
SlaMetric = Literal["first_response", "next_response", "resolution"]
ReleaseKind = Literal["feature", "security", "bugfix", "performance", "maintenance"]
CommentAuthorKind = Literal["staff", "client"]
# Who made a ticket change: staff, the client (a client key or a client's reply), or the
# platform itself (auto-close, a release's resolution).
ActorKind = Literal["staff", "client", "system"]
# How an SLA clock that stopped ended, when "met" or "breached" does not say it all: a
# first response the ticket's resolution made moot, or a clock its plan no longer covers.
SlaOutcome = Literal["met", "breached", "met_by_resolution", "cancelled"]
# Internal comments are staff notes: never shown to, or sent towards, a client.
CommentVisibility = Literal["public", "internal"]
# The closed set of ticket kinds (error reports default to ``bug``).
TicketKind = Literal["bug", "incident", "security", "feature_request", "question", "feedback"]
MonitorKind = Literal["heartbeat", "uptime"]
# When a plan counts a ticket fixed by a release as resolved: when the release is
# published, or when a deployment of it reaches the plan's environment.
ResolutionOn = Literal["release", "deploy"]
# A staff token's role: admin mints and revokes staff tokens, viewer reads only.
StaffRole = Literal["admin", "staff", "viewer"]
ChangeType = Literal[
    "added", "changed", "deprecated", "removed", "fixed", "security", "performance"
]

# The same names as tuples, for SQL check constraints, query parameters and loops.
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
TICKET_STATUSES: tuple[TicketStatus, ...] = get_args(TicketStatus)
SLA_METRICS: tuple[SlaMetric, ...] = get_args(SlaMetric)
RELEASE_KINDS: tuple[ReleaseKind, ...] = get_args(ReleaseKind)
COMMENT_AUTHOR_KINDS: tuple[CommentAuthorKind, ...] = get_args(CommentAuthorKind)
ACTOR_KINDS: tuple[ActorKind, ...] = get_args(ActorKind)
SLA_OUTCOMES: tuple[SlaOutcome, ...] = get_args(SlaOutcome)
COMMENT_VISIBILITIES: tuple[CommentVisibility, ...] = get_args(CommentVisibility)
TICKET_KINDS: tuple[TicketKind, ...] = get_args(TicketKind)
MONITOR_KINDS: tuple[MonitorKind, ...] = get_args(MonitorKind)
CHANGE_TYPES: tuple[ChangeType, ...] = get_args(ChangeType)
STAFF_ROLES: tuple[StaffRole, ...] = get_args(StaffRole)
RESOLUTION_TRIGGERS: tuple[ResolutionOn, ...] = get_args(ResolutionOn)


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
    expires_at: datetime | None = None
    """After it the key is refused everywhere; None: it lasts until revoked."""


class ClientApiKeyRevoked(EventPayload):
    event_type: ClassVar[str] = "client.api_key_revoked"
    api_key_id: str
    client_id: str
    revoked_at: datetime


# --- staff tokens (on the clients topic, for the services' read models only) -----------


class StaffTokenIssued(EventPayload):
    """Lets every service know a staff token's id, role and expiry (never the token)."""

    event_type: ClassVar[str] = "staff.token_issued"
    token_id: str
    subject: str
    role: StaffRole
    created_at: datetime
    expires_at: datetime


class StaffTokenRevoked(EventPayload):
    """Every service refuses the token from the moment it has applied this."""

    event_type: ClassVar[str] = "staff.token_revoked"
    token_id: str
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
    actor_kind: ActorKind | None = None
    """Who made the change: ``staff`` (a PATCH or a staff reply), ``client`` (a client's
    reply moving the status) or ``system``; absent from older producers."""
    kind: str | None = None
    """The ticket's kind after the change (``"kind"`` in ``changed`` when staff changed it),
    so read models follow a re-classified ticket; absent from older producers."""


class TicketAssigned(EventPayload):
    """Staff gave the ticket to a staff member (``assignee``), or took it back (null)."""

    event_type: ClassVar[str] = "ticket.assigned"
    ticket_id: str
    client_id: str
    assignee: str | None
    """The staff subject now responsible; null: unassigned."""
    previous_assignee: str | None = None
    assigned_by: str
    assigned_at: datetime


class TicketCommented(EventPayload):
    event_type: ClassVar[str] = "ticket.commented"
    ticket_id: str
    client_id: str
    comment_id: str
    author_kind: CommentAuthorKind
    created_at: datetime
    visibility: CommentVisibility = "public"
    """``internal``: a staff note; never routed to a client's endpoints (older producers:
    every comment was public)."""


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
    deployment_id: str | None = None
    """The deployment that made the fix reach the client (resolution ``patched`` or
    ``deployed``)."""


class TicketReopened(EventPayload):
    event_type: ClassVar[str] = "ticket.reopened"
    ticket_id: str
    client_id: str
    reopened_at: datetime
    status: TicketStatus = "triaged"
    """The status the ticket reopened to (older producers always reopened to triaged)."""
    reason: str | None = None
    """Why: ``manual`` (staff), ``regression`` (the bug recurred in a version at or after its
    fix, or in one that cannot be told apart), ``rollback`` (the release that fixed it was
    withdrawn) or ``client_reply`` (the client answered a resolved ticket within intake's
    reopen window); absent from older producers."""
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
    """``merged`` when the ticket was folded into another, ``auto_closed`` when it stayed
    resolved for intake's ``INTAKE_AUTO_CLOSE_DAYS``; absent for a plain close."""
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


class TicketFeedbackReceived(EventPayload):
    """The client rated how a resolved ticket was handled (once per resolution cycle)."""

    event_type: ClassVar[str] = "ticket.feedback_received"
    feedback_id: str
    ticket_id: str
    client_id: str
    rating: int
    """1 (poor) to 5 (excellent)."""
    comment: str | None = None
    resolved_at: datetime
    """The resolution this feedback rates (a reopened and re-resolved ticket is rated again)."""
    received_at: datetime


# --- monitors (routine checks) ------------------------------------------------------


class MonitorUpserted(EventPayload):
    """A monitor was created or changed (also from a Sentry ``monitor_config`` upsert)."""

    event_type: ClassVar[str] = "monitor.upserted"
    monitor_id: str
    client_id: str
    name: str
    slug: str
    kind: MonitorKind
    environment: str | None = None
    paused: bool
    updated_at: datetime


class MonitorDeleted(EventPayload):
    event_type: ClassVar[str] = "monitor.deleted"
    monitor_id: str
    client_id: str
    deleted_at: datetime


class MonitorFailed(EventPayload):
    """The monitor crossed its failure threshold: an incident began (and a ticket opened)."""

    event_type: ClassVar[str] = "monitor.failed"
    monitor_id: str
    client_id: str
    name: str
    slug: str
    kind: MonitorKind
    environment: str | None = None
    reason: str
    """``missed``, ``timed_out``, ``failed`` (an error check-in or non-zero exit status),
    ``http_status``, ``body_mismatch``, ``timeout``, ``connection_error`` or
    ``certificate_expiring``."""
    detail: str | None = None
    ticket_id: str | None = None
    failed_at: datetime
    """When the incident began: the first bad outcome of the run that crossed the threshold."""


class MonitorRecovered(EventPayload):
    """The monitor crossed its recovery threshold: the incident ended (its ticket resolved)."""

    event_type: ClassVar[str] = "monitor.recovered"
    monitor_id: str
    client_id: str
    name: str
    slug: str
    ticket_id: str | None = None
    failed_at: datetime
    recovered_at: datetime


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
    outcome: SlaOutcome | None = None
    """How a stopped clock ended (``sla.met``: ``met`` or ``met_by_resolution``;
    ``sla.cancelled``: ``cancelled``); None on events of a clock still counting and from
    older producers."""
    cycle: int = 1
    """Which cycle of the metric on this ticket (``next_response`` starts one per client
    reply; a reopened ticket whose plan restarts resolution starts a new one)."""


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


class SlaCancelled(SlaClockEvent):
    """The clock stopped without a verdict: its client's plan was un-assigned."""

    event_type: ClassVar[str] = "sla.cancelled"


class SlaDueChanged(SlaClockEvent):
    """A running clock's due time moved because its business calendar changed (a plan's
    new version or a client's calendar override); ``due_at`` is the new one."""

    event_type: ClassVar[str] = "sla.due_changed"
    previous_due_at: datetime


class SlaClientPlanAssigned(EventPayload):
    """A client's tickets are now covered by this plan (and its business calendar)."""

    event_type: ClassVar[str] = "sla.client_plan_assigned"
    client_id: str
    plan_id: str
    # The calendar the client's clocks count in, in the engine's canonical JSON
    # (aftercare_shared.business_time): the plan's, with the assignment's calendar override
    # (time zone, holidays) applied. None: the plan runs 24x7 with no override.
    calendar: dict[str, Any] | None
    assigned_at: datetime
    resolution_on: ResolutionOn = "release"
    """When the plan resolves a ticket a release fixes (older producers: on release)."""
    resolution_environment: str = "production"
    """With ``deploy``: the client environment a succeeded deployment must reach."""
    plan_version: int = 1
    """The plan version in force for the client's new tickets (older producers: 1)."""


class SlaClientPlanUnassigned(EventPayload):
    """The client has no plan any more (its running clocks were cancelled): services that
    kept its calendar or resolution mode from ``sla.client_plan_assigned`` forget them,
    unless a later assignment has arrived already (``unassigned_at`` orders the two)."""

    event_type: ClassVar[str] = "sla.client_plan_unassigned"
    client_id: str
    plan_id: str
    unassigned_at: datetime


# --- reports -------------------------------------------------------------------------


class ReportPublished(EventPayload):
    """A client's monthly maintenance report is ready (sla, on the 1st in the plan's zone)."""

    event_type: ClassVar[str] = "report.published"
    client_id: str
    period: str
    """``YYYY-MM``: the month the report covers."""
    headlines: dict[str, float | None]
    """The headline figures (tickets_opened, sla_met_percent, uptime_percent…); None: no
    data. New figures may be added."""
    report_url: str
    """Where the report is read (JSON; HTML with ``Accept: text/html``)."""
    published_at: datetime


# --- releases ------------------------------------------------------------------------


class ReleaseCreated(EventPayload):
    event_type: ClassVar[str] = "release.created"
    release_id: str
    product: str
    version: str
    kind: ReleaseKind
    ticket_ids: list[str]
    created_at: datetime


class ChangelogEntry(BaseModel):
    """One line of a changelog: a ticket the release handles, by id and title."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    ticket_id: str
    title: str | None = None


class ChangelogSection(BaseModel):
    """A Keep a Changelog section (``added``, ``fixed``, ``security``…) and its entries."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    change_type: ChangeType
    entries: list[ChangelogEntry]


class ReleasePublished(EventPayload):
    event_type: ClassVar[str] = "release.published"
    release_id: str
    product: str
    version: str
    kind: ReleaseKind
    notes: str | None = None
    ticket_ids: list[str]
    published_at: datetime
    changelog: list[ChangelogSection] | None = None
    """The release's changelog sections (Keep a Changelog order)."""
    changelog_markdown: str | None = None
    """The same changelog as Markdown."""


class ReleaseRolledBack(EventPayload):
    """A published release was withdrawn; the tickets it resolved are open again."""

    event_type: ClassVar[str] = "release.rolled_back"
    release_id: str
    product: str
    version: str
    reason: str
    ticket_ids: list[str]
    rolled_back_at: datetime


class ReleaseDeployed(EventPayload):
    """A deployment succeeded: the client's environment now runs this version."""

    event_type: ClassVar[str] = "release.deployed"
    deployment_id: str
    client_id: str
    environment: str
    product: str
    version: str
    release_id: str | None = None
    """The release of that version, when the agency released it through Aftercare."""
    previous_version: str | None = None
    deployed_at: datetime
    fixed_ticket_ids: list[str] = []
    """The client's tickets fixed by this version or an earlier one of the product."""


# --- advisories ----------------------------------------------------------------------


class AdvisoryPublished(EventPayload):
    """A security advisory (OSV) was published or updated and its matches recomputed."""

    event_type: ClassVar[str] = "advisory.published"
    advisory_id: str
    aliases: list[str]
    summary: str | None = None
    severity: str | None = None
    """The advisory's stated severity (``CRITICAL``, ``HIGH``, ``MODERATE``, ``LOW``)."""
    cvss_score: float | None = None
    """The CVSS base score computed from the advisory's vector, when it has one."""
    packages: list[str]
    """``<ecosystem>:<name>`` of every affected package."""
    affected_clients: int
    published_at: datetime


class AdvisoryMatched(EventPayload):
    """A client's environment newly runs a version an advisory affects."""

    event_type: ClassVar[str] = "advisory.matched"
    advisory_id: str
    aliases: list[str]
    summary: str | None = None
    client_id: str
    environment: str
    product: str | None = None
    """The agency's own product that is affected (own-product advisories)."""
    component_purl: str | None = None
    """The affected component's Package URL, with the installed version (SBOM matches)."""
    installed_version: str
    fixed_versions: list[str]
    severity: str | None = None
    cvss_score: float | None = None
    deployment_id: str | None = None
    matched_at: datetime


class AdvisoryPatched(EventPayload):
    """No environment of the client runs an affected version of the advisory any more."""

    event_type: ClassVar[str] = "advisory.patched"
    advisory_id: str
    client_id: str
    deployment_id: str | None = None
    """The deployment (or the deployment whose new SBOM) that removed the last exposure."""
    patched_at: datetime


# --- notifications -------------------------------------------------------------------


# Delivery outcomes are events only when they mean something to a subscriber: an endpoint
# starts failing, a delivery runs out of attempts, an endpoint recovers or is disabled.
# A success is not an event (attempts stay queryable on notify's API).


class NotificationEndpointFailing(EventPayload):
    """The first failed attempt after the endpoint last succeeded (once per failure streak)."""

    event_type: ClassVar[str] = "notification.endpoint_failing"
    endpoint_id: str
    delivery_id: str
    message_id: str
    message_type: str
    last_error: str
    failing_since: datetime


class NotificationEndpointRecovered(EventPayload):
    """The first success after a failure streak."""

    event_type: ClassVar[str] = "notification.endpoint_recovered"
    endpoint_id: str
    delivery_id: str
    failing_since: datetime
    recovered_at: datetime


class NotificationFailed(EventPayload):
    """A delivery exhausted its attempts (or was refused for good)."""

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
    StaffTokenIssued,
    StaffTokenRevoked,
    TicketCreated,
    TicketUpdated,
    TicketAssigned,
    TicketCommented,
    TicketOccurred,
    TicketResolved,
    TicketReopened,
    TicketClosed,
    TicketMerged,
    TicketFeedbackReceived,
    MonitorUpserted,
    MonitorDeleted,
    MonitorFailed,
    MonitorRecovered,
    SlaClockStarted,
    SlaAtRisk,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaResumed,
    SlaCancelled,
    SlaDueChanged,
    SlaClientPlanAssigned,
    SlaClientPlanUnassigned,
    ReportPublished,
    ReleaseCreated,
    ReleasePublished,
    ReleaseRolledBack,
    ReleaseDeployed,
    AdvisoryPublished,
    AdvisoryMatched,
    AdvisoryPatched,
    NotificationEndpointFailing,
    NotificationEndpointRecovered,
    NotificationFailed,
    NotificationEndpointDisabled,
)

# Events that exist only so services can keep read models (they carry key digests): they
# stay on Kafka for services and are never offered to webhook subscribers.
INTERNAL_SHORT_TYPES: frozenset[str] = frozenset(
    {
        ClientApiKeyIssued.event_type,
        ClientApiKeyRevoked.event_type,
        StaffTokenIssued.event_type,
        StaffTokenRevoked.event_type,
    }
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
