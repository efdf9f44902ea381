"""HTTP request and response bodies of the intake API (never ORM models, never events)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from fastapi import Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from aftercare_intake.domain import FixStatus, HistoryAction
from aftercare_shared.auth import ApiKeyScope, StaffRole
from aftercare_shared.events.catalog import (
    CommentAuthorKind,
    CommentVisibility,
    Priority,
    Severity,
    TicketKind,
    TicketStatus,
)
from aftercare_shared.patch import PatchBody

MAX_CONTEXT_KEYS = 100
MAX_ALLOWED_ORIGINS = 50
MAX_MERGED_TICKETS = 100
# A browser Origin: scheme://host[:port], nothing after it; or "*" for any origin.
_ORIGIN = re.compile(
    r"^(\*|https?://[A-Za-z0-9.\-]+(:\d{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?)$"
)


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)


class ClientUpdate(PatchBody):
    """Rename a client; the name cannot be cleared."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)


class ClientOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


def _checked_origins(origins: list[str] | None) -> list[str] | None:
    if origins is None:
        return None
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ValueError(f"{origin!r} is not an origin (scheme://host[:port]) or '*'")
    return [origin.lower() for origin in origins]


class ProjectCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=MAX_ALLOWED_ORIGINS,
        description="Origins browser SDKs may send events from (CORS), or ['*'].",
    )

    _origins = field_validator("allowed_origins")(_checked_origins)


class ProjectUpdate(PatchBody):
    """Rename a project or change the origins it accepts; neither can be cleared."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(default=None, max_length=MAX_ALLOWED_ORIGINS)

    _origins = field_validator("allowed_origins")(_checked_origins)


class ProjectOut(BaseModel):
    id: int = Field(description="The project id a DSN ends with (a positive integer).")
    client_id: str
    name: str
    allowed_origins: list[str]
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(StrictBody):
    name: str | None = Field(default=None, max_length=200)
    scope: ApiKeyScope = Field(
        default="client",
        description="`client`: submit and read its own client's data. `ingest`: submit only "
        "(reports, Sentry envelopes, check-ins), read nothing — safe inside a browser app.",
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the key (and its DSNs) stops working everywhere; must be in the "
        "future. Omitted: it lasts until revoked.",
    )


# A project id in a path: a positive bigint (the column's range), else 422 before any query
# (a larger number would fail in the database driver, not as a client error).
ProjectId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The project id (of the DSN).")]


class ProjectDsn(BaseModel):
    project_id: int
    project_name: str
    dsn: str


class ApiKeyOut(BaseModel):
    id: str
    client_id: str
    name: str | None
    prefix: str
    scope: ApiKeyScope
    public_key: str = Field(description="The DSN's public key: it can only submit events.")
    dsn: str | None = Field(
        description="Sentry DSN for the client's first project: give it to any Sentry SDK."
    )
    dsns: list[ProjectDsn] = Field(description="The key's DSN for each of the client's projects.")
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown only in this response; store it now.")


class StaffTokenCreate(StrictBody):
    subject: str = Field(
        min_length=1,
        max_length=200,
        description="Who the token is for (a name: it grants nothing).",
    )
    role: StaffRole = Field(
        default="staff",
        description="`admin`: everything, staff tokens included. `staff`: everything else. "
        "`viewer`: reads only (GET and HEAD) on every service.",
    )
    ttl_seconds: int = Field(default=8 * 3600, ge=60, le=90 * 24 * 3600)


class StaffTokenOut(BaseModel):
    """A minted token as listed: never the token itself."""

    id: str
    subject: str
    role: StaffRole
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class StaffTokenCreated(StaffTokenOut):
    token: str = Field(description="The signed token. Shown only in this response.")


class ReportCreate(StrictBody):
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    severity: Severity
    kind: TicketKind | None = Field(
        default=None, description="One of the closed set of ticket kinds; none: `bug`."
    )
    fingerprint: str | None = Field(default=None, min_length=1, max_length=200)
    environment: str | None = Field(default=None, max_length=100)
    release: str | None = Field(default=None, max_length=200)
    stacktrace: str | None = Field(default=None, max_length=200_000)
    context: dict[str, Any] | None = None

    @field_validator("context")
    @classmethod
    def _bounded_context(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(value) > MAX_CONTEXT_KEYS:
            raise ValueError(f"at most {MAX_CONTEXT_KEYS} keys")
        return value


class ReportAccepted(BaseModel):
    ticket_id: str
    status: TicketStatus
    priority: Priority
    occurrences: int
    deduplicated: bool


class SeenCount(BaseModel):
    """Occurrences of the ticket with one release, environment or fingerprint."""

    name: str
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime


class FixedIn(BaseModel):
    release_id: str
    product: str
    version: str


class Regression(BaseModel):
    reopened_at: datetime
    release: str | None = Field(description="The release the recurring occurrence came from.")


class TicketOut(BaseModel):
    id: str
    client_id: str
    title: str
    description: str | None
    severity: Severity
    priority: Priority
    kind: TicketKind
    status: TicketStatus
    assignee: str | None = Field(description="The staff subject working on it; null: nobody.")
    fingerprint: str
    environment: str | None
    release: str | None
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by_release_id: str | None
    fix_status: FixStatus | None = Field(
        description="`awaiting_deploy`: fix released, awaiting deploy — the client's plan "
        "resolves on deploy and the fixing release has not reached the plan's environment "
        "yet (the ticket stays open and its resolution clock runs)."
    )
    fix_release_id: str | None = Field(description="The release whose deploy the ticket awaits.")
    fix_released_at: datetime | None
    sla: dict[str, Any] = Field(description="Latest SLA state per metric, as sla reported it.")
    platform: str | None
    close_reason: str | None = Field(description="`merged` for a ticket folded into another.")
    merged_into_ticket_id: str | None
    fixed_in: FixedIn | None = Field(description="The release that resolved it, if one did.")
    regression: Regression | None = Field(
        description="Set when the ticket reopened because its bug came back after the fix."
    )
    releases: list[SeenCount] = Field(description="Occurrences per release (latest 100).")
    environments: list[SeenCount] = Field(description="Occurrences per environment (latest 100).")
    fingerprints: list[SeenCount] = Field(
        description="The fingerprints routed to this ticket (several once merged; latest 100)."
    )


class OccurrenceOut(BaseModel):
    id: str
    number: int = Field(description="Its number within its fingerprint (1 = the first).")
    fingerprint: str
    event_id: str | None
    project_id: int | None
    received_at: datetime
    occurred_at: datetime | None
    title: str
    severity: Severity
    platform: str | None
    environment: str | None
    release: str | None
    server_name: str | None
    details: dict[str, Any] = Field(
        description="Exception chain, message, tags, user, contexts, SDK… as reported."
    )


class HistoryOut(BaseModel):
    id: str
    ticket_id: str
    action: HistoryAction
    actor: str
    details: dict[str, Any]
    created_at: datetime


class TicketMerge(StrictBody):
    ticket_ids: list[str] = Field(min_length=1, max_length=MAX_MERGED_TICKETS)

    @field_validator("ticket_ids")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("ticket ids must be distinct")
        return value


class TicketUnmerge(StrictBody):
    fingerprint: str = Field(min_length=1, max_length=500)


class IngestAccepted(BaseModel):
    """What Sentry answers to an envelope or a stored event."""

    id: str | None = Field(default=None, description="The event id, when there was an event.")


MAX_SUBJECT_LENGTH = 200
StaffSubject = Annotated[str, Field(min_length=1, max_length=MAX_SUBJECT_LENGTH)]


class TicketUpdate(PatchBody):
    """Staff move a ticket, re-prioritise or re-classify it, or (un)assign it; only the
    assignee can be cleared (null: unassigned)."""

    clearable: ClassVar[frozenset[str]] = frozenset({"assignee"})

    status: TicketStatus | None = None
    priority: Priority | None = None
    kind: TicketKind | None = None
    assignee: StaffSubject | None = Field(
        default=None, description="A staff subject (a staff token's `subject`); null: nobody."
    )


class TicketCreate(StrictBody):
    """A ticket opened by hand: a contact's question, a feature request, a bug seen by staff."""

    client_id: str | None = Field(
        default=None,
        max_length=200,
        description="Required with a staff credential; a client key opens tickets for its "
        "own client (omit it, or give its own id).",
    )
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    kind: TicketKind = "question"
    severity: Severity = Field(
        default="medium", description="Sets the priority as for reports (medium: P3)."
    )
    environment: str | None = Field(default=None, max_length=100)
    assignee: StaffSubject | None = Field(
        default=None, description="Staff only: who works on it from the start."
    )


class CommentCreate(StrictBody):
    body: str = Field(min_length=1, max_length=20_000)
    visibility: CommentVisibility = Field(
        default="public",
        description="`internal`: a staff note no client key ever sees (staff only).",
    )
    status: Literal["waiting_on_client"] | None = Field(
        default=None,
        description="Staff, public replies only: the ticket now waits on the client.",
    )


class CommentOut(BaseModel):
    id: str
    ticket_id: str
    author_kind: CommentAuthorKind
    author: str
    body: str
    visibility: CommentVisibility
    created_at: datetime
