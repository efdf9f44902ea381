"""HTTP request and response bodies of the intake API (never ORM models, never events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aftercare_intake.domain import FixStatus
from aftercare_shared.events.catalog import CommentAuthorKind, Priority, Severity, TicketStatus
from aftercare_shared.patch import PatchBody

MAX_CONTEXT_KEYS = 100


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


class ApiKeyCreate(StrictBody):
    name: str | None = Field(default=None, max_length=200)


class ApiKeyOut(BaseModel):
    id: str
    client_id: str
    name: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown only in this response; store it now.")


class StaffTokenCreate(StrictBody):
    subject: str = Field(min_length=1, max_length=200, description="Who the token is for.")
    ttl_seconds: int = Field(default=8 * 3600, ge=60, le=90 * 24 * 3600)


class StaffTokenOut(BaseModel):
    token: str
    subject: str
    expires_at: datetime


class ReportCreate(StrictBody):
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    severity: Severity
    kind: str | None = Field(default=None, max_length=100)
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


class TicketOut(BaseModel):
    id: str
    client_id: str
    title: str
    description: str | None
    severity: Severity
    priority: Priority
    kind: str | None
    status: TicketStatus
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


class TicketUpdate(PatchBody):
    """Staff move a ticket or re-prioritise it; neither can be cleared."""

    status: TicketStatus | None = None
    priority: Priority | None = None


class CommentCreate(StrictBody):
    body: str = Field(min_length=1, max_length=20_000)


class CommentOut(BaseModel):
    id: str
    ticket_id: str
    author_kind: CommentAuthorKind
    author: str
    body: str
    created_at: datetime
