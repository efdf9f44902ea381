"""Intake's use cases: each is one transaction that changes state and queues its events.

Refusals are raised as the exceptions in :mod:`aftercare_intake.errors`; the app turns
them into problem answers.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import (
    assignment,
    domain,
    filing,
    fix_resolution,
    grouping,
    history,
    idempotency,
    occurrence_store,
    repository,
    ticket_search,
)
from aftercare_intake.announcements import announce
from aftercare_intake.api.schemas import ReportAccepted, ReportCreate
from aftercare_intake.domain import OccurrencePolicy, SlaViewState
from aftercare_intake.errors import (
    AdminOnlyError,
    ApiKeyNotFoundError,
    ClientNotFoundError,
    ExpiryInPastError,
    MergedTicketReopenError,
    ProjectNotFoundError,
    StaffTokenNotFoundError,
    TicketNotFoundError,
)
from aftercare_intake.filing import Filed
from aftercare_intake.models import (
    ApiKey,
    Client,
    ProcessedRelease,
    Project,
    StaffToken,
    Ticket,
    TicketHistory,
)
from aftercare_intake.occurrence import ExceptionRecord, Occurrence
from aftercare_intake.repository import OccurrenceView
from aftercare_shared.auth import ApiKeyScope, Principal, StaffRole, StaffTokens, generate_api_key
from aftercare_shared.auth.api_keys import NewApiKey
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    ActorKind,
    ClientApiKeyIssued,
    ClientApiKeyRevoked,
    ClientCreated,
    ClientUpdated,
    EventPayload,
    Priority,
    SlaMetric,
    StaffTokenIssued,
    StaffTokenRevoked,
    TicketClosed,
    TicketKind,
    TicketOccurred,
    TicketReopened,
    TicketResolved,
    TicketStatus,
    TicketUpdated,
)
from aftercare_shared.pagination import CursorPosition
from aftercare_shared.patch import UNSET, Unset

DEFAULT_PROJECT_NAME = "default"
PUBLIC_KEY_BYTES = 16  # 32 hex digits, as Sentry's: DSN parsers accept [A-Za-z0-9] only


def new_id() -> str:
    return str(uuid.uuid4())


# --- clients and keys -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientChanges:
    """A PATCH of a client: a field left UNSET keeps its value."""

    name: str | Unset = UNSET


async def create_client(session: AsyncSession, *, name: str) -> Client:
    now = utc_now()
    client = Client(id=new_id(), name=name, created_at=now, updated_at=now)
    session.add(client)
    await announce(
        session,
        ClientCreated(client_id=client.id, name=name, created_at=now),
        subject=client.id,
        client_id=client.id,
    )
    await session.commit()
    return client


async def get_client(session: AsyncSession, *, client_id: str) -> Client:
    client = await session.get(Client, client_id)
    if client is None:
        raise ClientNotFoundError("No client with that id.")
    return client


async def list_clients(
    session: AsyncSession, *, after: CursorPosition | None, limit: int
) -> list[Client]:
    return await repository.list_clients(session, after=after, limit=limit)


async def update_client(session: AsyncSession, *, client_id: str, changes: ClientChanges) -> Client:
    client = await session.get(Client, client_id, with_for_update=True)
    if client is None:
        raise ClientNotFoundError("No client with that id.")
    if isinstance(changes.name, Unset):
        return client  # nothing asked, nothing to announce
    client.name = changes.name
    client.updated_at = utc_now()
    await announce(
        session,
        ClientUpdated(client_id=client.id, name=client.name, updated_at=client.updated_at),
        subject=client.id,
        client_id=client.id,
    )
    await session.commit()
    return client


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    api_key: ApiKey
    generated: NewApiKey
    projects: list[Project]
    """The client's projects: the key's DSNs name them."""


async def issue_api_key(
    session: AsyncSession,
    *,
    client_id: str,
    name: str | None,
    scope: ApiKeyScope,
    expires_at: datetime | None = None,
) -> IssuedApiKey:
    """A new key with its DSN key; a client's first key also gets it a first project.

    Only ``client`` keys are announced to the other services: an ``ingest`` key reads
    nothing anywhere, so no other service needs to know it (they answer it 401).
    """
    if await session.get(Client, client_id, with_for_update=True) is None:
        raise ClientNotFoundError("No client with that id.")
    now = utc_now()
    if expires_at is not None and expires_at <= now:
        raise ExpiryInPastError(
            "expires_at must be in the future.",
            errors=[{"location": "body.expires_at", "message": "in the past", "kind": "past"}],
        )
    projects = await repository.client_projects(session, client_id=client_id)
    if not projects:
        projects = [_new_project(session, client_id=client_id, name=DEFAULT_PROJECT_NAME, now=now)]
        await session.flush()
    generated = generate_api_key()
    api_key = ApiKey(
        id=new_id(),
        client_id=client_id,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
        scope=scope,
        public_key=secrets.token_hex(PUBLIC_KEY_BYTES),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(api_key)
    if scope == "client":
        await announce(
            session,
            ClientApiKeyIssued(
                api_key_id=api_key.id,
                client_id=client_id,
                key_hash=generated.key_hash,
                prefix=generated.prefix,
                created_at=now,
                expires_at=expires_at,
            ),
            subject=client_id,
            client_id=client_id,
        )
    await session.commit()
    return IssuedApiKey(api_key=api_key, generated=generated, projects=projects)


async def list_api_keys(
    session: AsyncSession, *, client_id: str, after: CursorPosition | None, limit: int
) -> tuple[list[ApiKey], list[Project]]:
    """A page of the client's keys, and the client's projects their DSNs name."""
    await get_client(session, client_id=client_id)
    keys = await repository.list_api_keys(session, client_id=client_id, after=after, limit=limit)
    return keys, await repository.client_projects(session, client_id=client_id)


async def revoke_api_key(session: AsyncSession, *, api_key_id: str) -> None:
    api_key = await session.get(ApiKey, api_key_id, with_for_update=True)
    if api_key is None:
        raise ApiKeyNotFoundError("No API key with that id.")
    if api_key.revoked_at is not None:
        return  # revoking twice is harmless and emits nothing new
    api_key.revoked_at = utc_now()
    if api_key.scope != "client":
        await session.commit()  # never announced, so nothing to take back elsewhere
        return
    await announce(
        session,
        ClientApiKeyRevoked(
            api_key_id=api_key.id, client_id=api_key.client_id, revoked_at=api_key.revoked_at
        ),
        subject=api_key.client_id,
        client_id=api_key.client_id,
    )
    await session.commit()


# --- projects ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectChanges:
    """A PATCH of a project: a field left UNSET keeps its value."""

    name: str | Unset = UNSET
    allowed_origins: list[str] | Unset = UNSET


def _new_project(
    session: AsyncSession,
    *,
    client_id: str,
    name: str,
    now: datetime,
    allowed_origins: list[str] | None = None,
) -> Project:
    project = Project(
        client_id=client_id,
        name=name,
        allowed_origins=allowed_origins or [],
        created_at=now,
        updated_at=now,
    )
    session.add(project)
    return project


async def create_project(
    session: AsyncSession, *, client_id: str, name: str, allowed_origins: list[str]
) -> Project:
    if await session.get(Client, client_id) is None:
        raise ClientNotFoundError("No client with that id.")
    project = _new_project(
        session, client_id=client_id, name=name, now=utc_now(), allowed_origins=allowed_origins
    )
    await session.commit()
    return project


async def list_projects(
    session: AsyncSession, *, client_id: str, after: CursorPosition | None, limit: int
) -> list[Project]:
    await get_client(session, client_id=client_id)
    return await repository.list_projects(session, client_id=client_id, after=after, limit=limit)


async def update_project(
    session: AsyncSession, *, project_id: int, changes: ProjectChanges
) -> Project:
    project = await session.get(Project, project_id, with_for_update=True)
    if project is None:
        raise ProjectNotFoundError("No project with that id.")
    if not isinstance(changes.name, Unset):
        project.name = changes.name
    if not isinstance(changes.allowed_origins, Unset):
        project.allowed_origins = changes.allowed_origins
    project.updated_at = utc_now()
    await session.commit()
    return project


# --- staff tokens -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedStaffToken:
    record: StaffToken
    token: str


def _require_admin(principal: Principal) -> None:
    # The role decides, never the subject: a token minted for "admin" is not the admin.
    if not principal.is_admin:
        raise AdminOnlyError(
            "Only the admin token or an admin-role staff token manages staff tokens."
        )


async def issue_staff_token(
    session: AsyncSession,
    staff_tokens: StaffTokens,
    *,
    requested_by: Principal,
    subject: str,
    role: StaffRole,
    ttl_seconds: int,
) -> IssuedStaffToken:
    """Mint a signed token every service verifies on its own, and announce its id."""
    _require_admin(requested_by)
    # The token counts whole seconds from issue: record the same expiry it will enforce.
    issued_at = utc_now().replace(microsecond=0)
    record = StaffToken(
        id=new_id(),
        subject=subject,
        role=role,
        created_by=requested_by.subject,
        created_at=issued_at,
        expires_at=issued_at + timedelta(seconds=ttl_seconds),
    )
    session.add(record)
    await announce(
        session,
        StaffTokenIssued(
            token_id=record.id,
            subject=subject,
            role=role,
            created_at=issued_at,
            expires_at=record.expires_at,
        ),
        subject=record.id,
        client_id=None,
    )
    await session.commit()
    token = staff_tokens.issue(
        token_id=record.id,
        subject=subject,
        role=role,
        ttl_seconds=ttl_seconds,
        now=issued_at.timestamp(),
    )
    return IssuedStaffToken(record=record, token=token)


async def list_staff_tokens(
    session: AsyncSession, *, requested_by: Principal, after: CursorPosition | None, limit: int
) -> list[StaffToken]:
    _require_admin(requested_by)
    return await repository.list_staff_tokens(session, after=after, limit=limit)


async def revoke_staff_token(
    session: AsyncSession, *, requested_by: Principal, token_id: str
) -> None:
    """Refused at once by intake, and by each other service once it applied the event."""
    _require_admin(requested_by)
    record = await session.get(StaffToken, token_id, with_for_update=True)
    if record is None:
        raise StaffTokenNotFoundError("No staff token with that id.")
    if record.revoked_at is not None:
        return  # revoking twice is harmless and emits nothing new
    record.revoked_at = utc_now()
    await announce(
        session,
        StaffTokenRevoked(token_id=record.id, revoked_at=record.revoked_at),
        subject=record.id,
        client_id=None,
    )
    await session.commit()


# --- reports ----------------------------------------------------------------------------


# A report's answer; replayed as is under its Idempotency-Key.
ReportOutcome = idempotency.StoredAnswer

REPORT_ROUTE = "POST /v1/reports"


async def submit_report(
    session: AsyncSession,
    *,
    client_id: str,
    report: ReportCreate,
    idempotency_key: str | None,
    idempotency_ttl: timedelta,
    policy: OccurrencePolicy,
) -> ReportOutcome:
    """Open a ticket or count one more occurrence on its ticket; answer only once durable."""
    if idempotency_key is not None:
        replayed = await idempotency.claim(
            session,
            owner=client_id,
            key=idempotency_key,
            request=idempotency.request_hash(REPORT_ROUTE, report.model_dump(mode="json")),
            ttl=idempotency_ttl,
        )
        if replayed is not None:
            return replayed

    filed = await filing.file_occurrence(
        session,
        client_id=client_id,
        occurrence=occurrence_from_report(report),
        policy=policy,
        now=utc_now(),
    )
    outcome = _report_outcome(filed)
    if idempotency_key is not None:
        await idempotency.remember(session, owner=client_id, key=idempotency_key, answer=outcome)
    await session.commit()
    return outcome


def occurrence_from_report(report: ReportCreate) -> Occurrence:
    """A REST report as an occurrence, grouped by the same rules as Sentry events.

    A stack trace sent as text is read for its frames (function and file, never line
    numbers or paths), so a REST report of the same fault on other lines after a deploy
    joins the same ticket.
    """
    frames = grouping.frames_from_text(report.stacktrace) if report.stacktrace else []
    exceptions = (
        [ExceptionRecord(type=report.kind, value=report.title, frames=tuple(frames))]
        if frames
        else []
    )
    details: dict[str, Any] = {
        "kind": report.kind,
        "description": report.description,
        "stacktrace": report.stacktrace,
        "context": report.context,
        "fingerprint": [report.fingerprint] if report.fingerprint else None,
    }
    return Occurrence(
        title=report.title,
        severity=report.severity,
        fingerprint=grouping.fingerprint(
            explicit=[report.fingerprint] if report.fingerprint else None,
            exceptions=exceptions,
            message=report.title,
            kind=report.kind,
        ),
        kind=report.kind,
        description=report.description,
        environment=report.environment,
        release=report.release,
        stacktrace=report.stacktrace,
        context=report.context,
        details={key: value for key, value in details.items() if value is not None},
    )


def _report_outcome(filed: Filed) -> ReportOutcome:
    """201 with the new ticket, or 200 when the report joined an existing one."""
    body = ReportAccepted(
        ticket_id=filed.ticket_id,
        status=filed.status,
        priority=filed.priority,
        occurrences=filed.occurrences,
        deduplicated=not filed.created,
    ).model_dump(mode="json")
    return ReportOutcome(201 if filed.created else 200, body)


# --- tickets ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """A staff PATCH of a ticket: a field left UNSET keeps its value."""

    status: TicketStatus | Unset = UNSET
    priority: Priority | Unset = UNSET
    kind: TicketKind | Unset = UNSET
    assignee: str | Unset | None = UNSET
    """None: unassign."""


async def visible_ticket(session: AsyncSession, *, principal: Principal, ticket_id: str) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    # Another client's ticket is "not found", not "forbidden": existence must not leak.
    if ticket is None or not principal.may_see_client(ticket.client_id):
        raise TicketNotFoundError("No ticket with that id.")
    return ticket


async def list_visible_tickets(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: ticket_search.TicketFilters,
    sort: ticket_search.TicketSort,
    after: CursorPosition | None,
    limit: int,
) -> list[Ticket]:
    """Staff see every client's tickets; a client key only its own client's."""
    if not principal.is_staff:
        if filters.client_id is not None and filters.client_id != principal.client_id:
            return []
        filters = replace(filters, client_id=principal.client_id)
    return await ticket_search.find_tickets(
        session, filters=filters, sort=sort, after=after, limit=limit
    )


async def update_ticket(
    session: AsyncSession, *, ticket_id: str, changes: TicketChanges, actor: str
) -> Ticket:
    ticket = await session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        raise TicketNotFoundError("No ticket with that id.")
    previous_status, previous_priority = ticket.status, ticket.priority
    now = utc_now()
    changed = _apply_ticket_changes(ticket, changes, now=now)
    if changed:
        await _announce_ticket_changes(
            session,
            ticket,
            previous_status=previous_status,
            previous_priority=previous_priority,
            changed=changed,
            actor=actor,
            now=now,
        )
    assigned = not isinstance(changes.assignee, Unset) and await assignment.assign(
        session, ticket, assignee=changes.assignee, actor=actor, now=now
    )
    if changed or assigned:
        await session.commit()
    return ticket


async def _announce_ticket_changes(
    session: AsyncSession,
    ticket: Ticket,
    *,
    previous_status: TicketStatus,
    previous_priority: Priority,
    changed: list[str],
    actor: str,
    now: datetime,
) -> None:
    await _record_ticket_changes(
        session,
        ticket,
        previous_status=previous_status,
        previous_priority=previous_priority,
        changed=changed,
        actor=actor,
        now=now,
    )
    payload = _ticket_change_event(ticket, previous_status, changed, now=now)
    await announce(session, payload, subject=ticket.id, client_id=ticket.client_id)
    other_fields = [field for field in changed if field != "status"]
    if other_fields and not isinstance(payload, TicketUpdated):
        # A status event does not carry the new priority: say it separately so SLA re-targets.
        await announce(
            session,
            _ticket_updated(ticket, other_fields, now=now),
            subject=ticket.id,
            client_id=ticket.client_id,
        )


def _apply_ticket_changes(ticket: Ticket, changes: TicketChanges, *, now: datetime) -> list[str]:
    """Set what differs (checking the status move first); the names of the changed fields."""
    changed: list[str] = []
    if not isinstance(changes.status, Unset) and changes.status != ticket.status:
        domain.check_transition(ticket.status, changes.status)
        if domain.is_reopen(ticket.status, changes.status):
            if ticket.close_reason == "merged":
                raise MergedTicketReopenError(
                    "This ticket was merged into another; unmerge its fingerprint instead."
                )
            ticket.resolved_at = None
        elif changes.status == domain.RESOLVED_STATUS:
            ticket.resolved_at = now
        ticket.status = changes.status
        changed.append("status")
    if not isinstance(changes.priority, Unset) and changes.priority != ticket.priority:
        ticket.priority = changes.priority
        changed.append("priority")
    if not isinstance(changes.kind, Unset) and changes.kind != ticket.kind:
        ticket.kind = changes.kind
        changed.append("kind")
    if changed:
        ticket.updated_at = now
    return changed


async def _record_ticket_changes(
    session: AsyncSession,
    ticket: Ticket,
    *,
    previous_status: TicketStatus,
    previous_priority: Priority,
    changed: list[str],
    actor: str,
    now: datetime,
) -> None:
    if "status" in changed:
        reopened = domain.is_reopen(previous_status, ticket.status)
        await history.record(
            session,
            ticket_id=ticket.id,
            action="reopened" if reopened else "status_changed",
            actor=actor,
            details={
                "from": previous_status,
                "to": ticket.status,
                "reason": "manual" if reopened else None,
            },
            now=now,
        )
    if "priority" in changed:
        await history.record(
            session,
            ticket_id=ticket.id,
            action="priority_changed",
            actor=actor,
            details={"from": previous_priority, "to": ticket.priority},
            now=now,
        )


def _ticket_change_event(
    ticket: Ticket, previous_status: TicketStatus, changed: list[str], *, now: datetime
) -> EventPayload:
    """The one event that tells what happened; a status move has its own event type."""
    subject, client_id = ticket.id, ticket.client_id
    if "status" not in changed:
        return _ticket_updated(ticket, changed, now=now)
    if domain.is_reopen(previous_status, ticket.status):
        return TicketReopened(
            ticket_id=subject,
            client_id=client_id,
            reopened_at=now,
            status=ticket.status,
            reason="manual",
        )
    if ticket.status == domain.RESOLVED_STATUS:
        return TicketResolved(
            ticket_id=subject, client_id=client_id, resolved_at=now, resolution="manual"
        )
    if ticket.status == domain.CLOSED_STATUS:
        return TicketClosed(ticket_id=subject, client_id=client_id, closed_at=now)
    return _ticket_updated(ticket, changed, now=now)


def _ticket_updated(
    ticket: Ticket, changed: list[str], *, now: datetime, actor_kind: ActorKind = "staff"
) -> TicketUpdated:
    return TicketUpdated(
        ticket_id=ticket.id,
        client_id=ticket.client_id,
        status=ticket.status,
        priority=ticket.priority,
        changed=changed,
        updated_at=now,
        actor_kind=actor_kind,
        kind=ticket.kind,
    )


async def list_occurrences(
    session: AsyncSession,
    *,
    principal: Principal,
    ticket_id: str,
    after: CursorPosition | None,
    limit: int,
) -> list[OccurrenceView]:
    """The kept occurrences of the ticket's fingerprints, newest first."""
    await visible_ticket(session, principal=principal, ticket_id=ticket_id)
    return await repository.list_occurrences(session, ticket_id=ticket_id, after=after, limit=limit)


async def list_history(
    session: AsyncSession,
    *,
    principal: Principal,
    ticket_id: str,
    after: CursorPosition | None,
    limit: int,
) -> list[TicketHistory]:
    await visible_ticket(session, principal=principal, ticket_id=ticket_id)
    return await history.page(session, ticket_id=ticket_id, after=after, limit=limit)


# --- reactions to other services' events -------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedRelease:
    release_id: str
    product: str
    version: str
    ticket_ids: list[str]
    published_at: datetime


async def resolve_tickets_fixed_by_release(
    session: AsyncSession, *, release: PublishedRelease
) -> int:
    """Resolve the open tickets a published release lists, and remember what fixed them.

    The product and version are kept on each ticket: a later occurrence from an older
    version is an old deployment still running, one from this version or later a
    regression. A ticket staff had already resolved by hand learns its fix version too.
    Under a plan that resolves on deploy the ticket only waits for the deployment
    (:mod:`.fix_resolution`). Runs in the consumer's transaction; returns how many it
    resolved.
    """
    already = await session.get(ProcessedRelease, release.release_id)
    if already is not None:
        return 0
    tickets = (
        await repository.lock_tickets_a_release_fixes(session, release.ticket_ids)
        if release.ticket_ids
        else []
    )
    waiting_for_deploy = await fix_resolution.clients_waiting_for_deploy(session, tickets)
    resolved = 0
    now = utc_now()
    for ticket in tickets:
        ticket.fixed_in_release_id = release.release_id
        ticket.fixed_in_product = release.product
        ticket.fixed_in_version = release.version
        ticket.updated_at = now
        if ticket.status == domain.RESOLVED_STATUS:
            continue  # resolved by hand before: now it also knows its fix
        if ticket.client_id in waiting_for_deploy:
            fix_resolution.mark_awaiting_deploy(
                ticket, release_id=release.release_id, published_at=release.published_at
            )
            continue
        resolved += 1
        previous_status = ticket.status
        ticket.status = domain.RESOLVED_STATUS
        ticket.resolved_at = release.published_at
        ticket.resolved_by_release_id = release.release_id
        await history.record(
            session,
            ticket_id=ticket.id,
            action="resolved",
            actor=domain.release_actor(release.release_id),
            details={
                "from": previous_status,
                "release_id": release.release_id,
                "fixed_in": f"{release.product}@{release.version}",
            },
            now=now,
        )
        await announce(
            session,
            TicketResolved(
                ticket_id=ticket.id,
                client_id=ticket.client_id,
                resolved_at=release.published_at,
                release_id=release.release_id,
                resolution="released",
            ),
            subject=ticket.id,
            client_id=ticket.client_id,
        )
    session.add(
        ProcessedRelease(release_id=release.release_id, resolved_count=resolved, processed_at=now)
    )
    return resolved


async def record_sla_state(
    session: AsyncSession,
    *,
    ticket_id: str,
    metric: SlaMetric,
    state: SlaViewState,
    due_at: datetime,
    occurred_at: datetime,
) -> None:
    """Show on the ticket what sla last said about one of its clocks."""
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None:
        return  # the ticket lives elsewhere (another deployment's data); nothing to show
    ticket.sla_status = {
        **ticket.sla_status,
        metric: {
            "state": state,
            "due_at": due_at.isoformat(),
            "updated_at": occurred_at.isoformat(),
        },
    }
    ticket.sla_due_at = domain.earliest_counting_due(ticket.sla_status)


# --- housekeeping -----------------------------------------------------------------------


async def announce_pending_occurrences(
    session: AsyncSession, *, policy: OccurrencePolicy, batch_size: int
) -> int:
    """``ticket.occurred`` for tickets a storm left with unannounced occurrences, once their
    interval has passed; how many backlog entries the round cleared."""
    now = utc_now()
    due, cleared = await occurrence_store.claim_due_announcements(
        session, announce_before=policy.announce_before(now), now=now, batch_size=batch_size
    )
    for ticket in due:
        await announce(
            session,
            TicketOccurred(
                ticket_id=ticket.ticket_id,
                client_id=ticket.client_id,
                occurrences=ticket.occurrences,
                occurred_at=ticket.last_seen_at,
                new_occurrences=ticket.occurrences - ticket.announced_before,
                since=ticket.announced_at_before,
            ),
            subject=ticket.ticket_id,
            client_id=ticket.client_id,
        )
    await session.commit()
    return cleared


async def purge_expired_idempotency_records(session: AsyncSession, *, ttl: timedelta) -> int:
    """Forget Idempotency-Key answers older than ``ttl``; how many went."""
    purged = await repository.purge_idempotency_records(session, expired_before=utc_now() - ttl)
    await session.commit()
    return purged
