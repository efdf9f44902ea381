"""Intake's use cases: each is one transaction that changes state and queues its events.

Refusals are raised as the exceptions in :mod:`aftercare_intake.errors`; the app turns
them into problem answers.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain, fix_resolution, repository
from aftercare_intake.api.schemas import ReportAccepted, ReportCreate
from aftercare_intake.domain import SlaViewState
from aftercare_intake.errors import (
    AdminOnlyError,
    ApiKeyNotFoundError,
    ClientNotFoundError,
    IdempotencyKeyReusedError,
    TicketNotFoundError,
)
from aftercare_intake.models import SCHEMA, ApiKey, Client, Comment, ProcessedRelease, Ticket
from aftercare_intake.repository import UpsertedTicket
from aftercare_shared.auth import Principal, StaffTokens, generate_api_key
from aftercare_shared.auth.api_keys import NewApiKey
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    ClientApiKeyRevoked,
    ClientCreated,
    ClientUpdated,
    CommentAuthorKind,
    EventPayload,
    Priority,
    SlaMetric,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketOccurred,
    TicketReopened,
    TicketResolved,
    TicketStatus,
    TicketUpdated,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.pagination import CursorPosition
from aftercare_shared.patch import UNSET, Unset

# The subject the platform's authenticator gives the admin credential itself.
ADMIN_SUBJECT = "admin"


def new_id() -> str:
    return str(uuid.uuid4())


async def _emit(
    session: AsyncSession, payload: EventPayload, *, subject: str, client_id: str | None
) -> None:
    event = new_event(payload, service=ServiceName.INTAKE, subject=subject, client_id=client_id)
    await enqueue_event(session, event, schema=SCHEMA)


# --- clients and keys -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientChanges:
    """A PATCH of a client: a field left UNSET keeps its value."""

    name: str | Unset = UNSET


async def create_client(session: AsyncSession, *, name: str) -> Client:
    now = utc_now()
    client = Client(id=new_id(), name=name, created_at=now, updated_at=now)
    session.add(client)
    await _emit(
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
    await _emit(
        session,
        ClientUpdated(client_id=client.id, name=client.name, updated_at=client.updated_at),
        subject=client.id,
        client_id=client.id,
    )
    await session.commit()
    return client


async def issue_api_key(
    session: AsyncSession, *, client_id: str, name: str | None
) -> tuple[ApiKey, NewApiKey]:
    if await session.get(Client, client_id) is None:
        raise ClientNotFoundError("No client with that id.")
    generated = generate_api_key()
    now = utc_now()
    api_key = ApiKey(
        id=new_id(),
        client_id=client_id,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
        created_at=now,
    )
    session.add(api_key)
    await _emit(
        session,
        ClientApiKeyIssued(
            api_key_id=api_key.id,
            client_id=client_id,
            key_hash=generated.key_hash,
            prefix=generated.prefix,
            created_at=now,
        ),
        subject=client_id,
        client_id=client_id,
    )
    await session.commit()
    return api_key, generated


async def list_api_keys(
    session: AsyncSession, *, client_id: str, after: CursorPosition | None, limit: int
) -> list[ApiKey]:
    await get_client(session, client_id=client_id)
    return await repository.list_api_keys(session, client_id=client_id, after=after, limit=limit)


async def revoke_api_key(session: AsyncSession, *, api_key_id: str) -> None:
    api_key = await session.get(ApiKey, api_key_id, with_for_update=True)
    if api_key is None:
        raise ApiKeyNotFoundError("No API key with that id.")
    if api_key.revoked_at is not None:
        return  # revoking twice is harmless and emits nothing new
    api_key.revoked_at = utc_now()
    await _emit(
        session,
        ClientApiKeyRevoked(
            api_key_id=api_key.id, client_id=api_key.client_id, revoked_at=api_key.revoked_at
        ),
        subject=api_key.client_id,
        client_id=api_key.client_id,
    )
    await session.commit()


# --- staff tokens -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedStaffToken:
    token: str
    subject: str
    expires_at: datetime


def issue_staff_token(
    staff_tokens: StaffTokens, *, requested_by: Principal, subject: str, ttl_seconds: int
) -> IssuedStaffToken:
    """Mint a signed token every service verifies on its own; only the admin may."""
    if requested_by.subject != ADMIN_SUBJECT:
        raise AdminOnlyError("Only the admin credential can mint staff tokens.")
    issued_at = utc_now()
    token = staff_tokens.issue(subject=subject, ttl_seconds=ttl_seconds, now=issued_at.timestamp())
    # The token counts whole seconds from issue: say the same expiry it will enforce.
    return IssuedStaffToken(
        token=token,
        subject=subject,
        expires_at=issued_at.replace(microsecond=0) + timedelta(seconds=ttl_seconds),
    )


# --- reports ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    status_code: int
    body: dict[str, Any]


def _request_hash(report: ReportCreate) -> str:
    canonical = orjson.dumps(report.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def submit_report(
    session: AsyncSession,
    *,
    client_id: str,
    report: ReportCreate,
    idempotency_key: str | None,
    idempotency_ttl: timedelta,
) -> ReportOutcome:
    """Open a ticket or join the open one with the same fingerprint; answer only once durable."""
    if idempotency_key is not None:
        replayed = await _replayed_answer(
            session,
            client_id=client_id,
            key=idempotency_key,
            report=report,
            ttl=idempotency_ttl,
        )
        if replayed is not None:
            return replayed

    upserted = await _file_report(session, client_id=client_id, report=report)
    outcome = _report_outcome(upserted)
    if idempotency_key is not None:
        await repository.store_idempotent_response(
            session,
            client_id=client_id,
            key=idempotency_key,
            status=outcome.status_code,
            body=outcome.body,
        )
    await session.commit()
    return outcome


async def _replayed_answer(
    session: AsyncSession, *, client_id: str, key: str, report: ReportCreate, ttl: timedelta
) -> ReportOutcome | None:
    """Claim ``key`` for this report, or the answer already given under it.

    None means the key is now ours and the report goes ahead in this transaction.
    """
    request_hash = _request_hash(report)
    earlier = await repository.claim_idempotency_key(
        session,
        client_id=client_id,
        key=key,
        request_hash=request_hash,
        expired_before=utc_now() - ttl,
    )
    if earlier is None:
        return None
    stored_hash = earlier.request_hash
    status_code, body = earlier.response_status, earlier.response_body
    await session.rollback()
    if stored_hash != request_hash:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was already used with a different request body."
        )
    # The claim waited for the first request to commit, and it committed with its answer.
    assert status_code is not None
    assert body is not None
    return ReportOutcome(status_code, body)


async def _file_report(
    session: AsyncSession, *, client_id: str, report: ReportCreate
) -> UpsertedTicket:
    """Open the ticket or count one more occurrence on the open one; queue what to announce."""
    now = utc_now()
    priority = domain.priority_for(report.severity)
    fingerprint = report.fingerprint or domain.default_fingerprint(
        title=report.title, kind=report.kind, stacktrace=report.stacktrace
    )
    upserted = await repository.upsert_ticket_for_report(
        session,
        values=_new_ticket_row(
            client_id=client_id, report=report, priority=priority, fingerprint=fingerprint, now=now
        ),
        now=now,
    )
    await _announce_report(
        session,
        upserted,
        client_id=client_id,
        report=report,
        priority=priority,
        fingerprint=fingerprint,
        now=now,
    )
    return upserted


def _new_ticket_row(
    *, client_id: str, report: ReportCreate, priority: Priority, fingerprint: str, now: datetime
) -> dict[str, Any]:
    """The row a report opens when no open ticket shares its fingerprint."""
    return {
        "id": new_id(),
        "client_id": client_id,
        "title": report.title,
        "description": report.description,
        "severity": report.severity,
        "priority": priority,
        "kind": report.kind,
        "status": domain.NEW_STATUS,
        "fingerprint": fingerprint,
        "environment": report.environment,
        "release": report.release,
        "stacktrace": report.stacktrace,
        "context": report.context,
        "occurrences": 1,
        "first_seen_at": now,
        "last_seen_at": now,
        "created_at": now,
        "updated_at": now,
    }


async def _announce_report(
    session: AsyncSession,
    upserted: UpsertedTicket,
    *,
    client_id: str,
    report: ReportCreate,
    priority: Priority,
    fingerprint: str,
    now: datetime,
) -> None:
    """``ticket.created`` for a new ticket; ``ticket.occurred`` only at milestone counts."""
    payload: EventPayload
    if upserted.created:
        payload = TicketCreated(
            ticket_id=upserted.ticket_id,
            client_id=client_id,
            title=report.title,
            severity=report.severity,
            priority=priority,
            status=domain.NEW_STATUS,
            kind=report.kind,
            environment=report.environment,
            release=report.release,
            fingerprint=fingerprint,
            created_at=now,
        )
    elif domain.announces_occurrence(upserted.occurrences):
        payload = TicketOccurred(
            ticket_id=upserted.ticket_id,
            client_id=client_id,
            occurrences=upserted.occurrences,
            occurred_at=now,
        )
    else:
        return
    await _emit(session, payload, subject=upserted.ticket_id, client_id=client_id)


def _report_outcome(upserted: UpsertedTicket) -> ReportOutcome:
    """201 with the new ticket, or 200 when the report joined an open one."""
    body = ReportAccepted(
        ticket_id=upserted.ticket_id,
        status=upserted.status,
        priority=upserted.priority,
        occurrences=upserted.occurrences,
        deduplicated=not upserted.created,
    ).model_dump(mode="json")
    return ReportOutcome(201 if upserted.created else 200, body)


# --- tickets ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """A staff PATCH of a ticket: a field left UNSET keeps its value."""

    status: TicketStatus | Unset = UNSET
    priority: Priority | Unset = UNSET


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
    client_id: str | None,
    status: TicketStatus | None,
    priority: Priority | None,
    after: CursorPosition | None,
    limit: int,
) -> list[Ticket]:
    """Staff see every client's tickets; a client key only its own client's."""
    if not principal.is_staff:
        if client_id is not None and client_id != principal.client_id:
            return []
        client_id = principal.client_id
    return await repository.list_tickets(
        session, client_id=client_id, status=status, priority=priority, after=after, limit=limit
    )


async def update_ticket(session: AsyncSession, *, ticket_id: str, changes: TicketChanges) -> Ticket:
    ticket = await session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        raise TicketNotFoundError("No ticket with that id.")
    previous_status = ticket.status
    now = utc_now()
    changed = _apply_ticket_changes(ticket, changes, now=now)
    if not changed:
        return ticket
    payload = _ticket_change_event(ticket, previous_status, changed, now=now)
    await _emit(session, payload, subject=ticket.id, client_id=ticket.client_id)
    if "priority" in changed and not isinstance(payload, TicketUpdated):
        # A status event does not carry the new priority: say it separately so SLA re-targets.
        await _emit(
            session,
            _ticket_updated(ticket, ["priority"], now=now),
            subject=ticket.id,
            client_id=ticket.client_id,
        )
    await session.commit()
    return ticket


def _apply_ticket_changes(ticket: Ticket, changes: TicketChanges, *, now: datetime) -> list[str]:
    """Set what differs (checking the status move first); the names of the changed fields."""
    changed: list[str] = []
    if not isinstance(changes.status, Unset) and changes.status != ticket.status:
        domain.check_transition(ticket.status, changes.status)
        if domain.is_reopen(ticket.status, changes.status):
            ticket.resolved_at = None
        elif changes.status == domain.RESOLVED_STATUS:
            ticket.resolved_at = now
        ticket.status = changes.status
        changed.append("status")
    if not isinstance(changes.priority, Unset) and changes.priority != ticket.priority:
        ticket.priority = changes.priority
        changed.append("priority")
    if changed:
        ticket.updated_at = now
    return changed


def _ticket_change_event(
    ticket: Ticket, previous_status: TicketStatus, changed: list[str], *, now: datetime
) -> EventPayload:
    """The one event that tells what happened; a status move has its own event type."""
    subject, client_id = ticket.id, ticket.client_id
    if "status" not in changed:
        return _ticket_updated(ticket, changed, now=now)
    if domain.is_reopen(previous_status, ticket.status):
        return TicketReopened(
            ticket_id=subject, client_id=client_id, reopened_at=now, status=ticket.status
        )
    if ticket.status == domain.RESOLVED_STATUS:
        return TicketResolved(
            ticket_id=subject, client_id=client_id, resolved_at=now, resolution="manual"
        )
    if ticket.status == domain.CLOSED_STATUS:
        return TicketClosed(ticket_id=subject, client_id=client_id, closed_at=now)
    return _ticket_updated(ticket, changed, now=now)


def _ticket_updated(ticket: Ticket, changed: list[str], *, now: datetime) -> TicketUpdated:
    return TicketUpdated(
        ticket_id=ticket.id,
        client_id=ticket.client_id,
        status=ticket.status,
        priority=ticket.priority,
        changed=changed,
        updated_at=now,
    )


async def add_comment(
    session: AsyncSession, *, principal: Principal, ticket_id: str, body: str
) -> Comment:
    ticket = await visible_ticket(session, principal=principal, ticket_id=ticket_id)
    author_kind: CommentAuthorKind = "staff" if principal.is_staff else "client"
    now = utc_now()
    comment = Comment(
        id=new_id(),
        ticket_id=ticket.id,
        author_kind=author_kind,
        author=principal.subject,
        body=body,
        created_at=now,
    )
    session.add(comment)
    await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(updated_at=now))
    await _emit(
        session,
        TicketCommented(
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            comment_id=comment.id,
            author_kind=author_kind,
            created_at=now,
        ),
        subject=ticket.id,
        client_id=ticket.client_id,
    )
    await session.commit()
    return comment


async def list_comments(
    session: AsyncSession,
    *,
    principal: Principal,
    ticket_id: str,
    after: CursorPosition | None,
    limit: int,
) -> list[Comment]:
    await visible_ticket(session, principal=principal, ticket_id=ticket_id)
    return await repository.list_comments(session, ticket_id=ticket_id, after=after, limit=limit)


# --- reactions to other services' events -------------------------------------------------


async def resolve_tickets_fixed_by_release(
    session: AsyncSession, *, release_id: str, ticket_ids: list[str], published_at: datetime
) -> int:
    """Apply a published release to the open tickets it lists: resolved, or awaiting deploy
    under a plan that resolves on deploy (:mod:`.fix_resolution`). Runs in the consumer's
    transaction; returns how many it resolved."""
    already = await session.get(ProcessedRelease, release_id)
    if already is not None:
        return 0
    tickets = await repository.lock_open_tickets(session, ticket_ids) if ticket_ids else []
    resolved = await fix_resolution.apply_published_fix(
        session, tickets, release_id=release_id, published_at=published_at
    )
    session.add(
        ProcessedRelease(release_id=release_id, resolved_count=resolved, processed_at=utc_now())
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


# --- housekeeping -----------------------------------------------------------------------


async def purge_expired_idempotency_records(session: AsyncSession, *, ttl: timedelta) -> int:
    """Forget Idempotency-Key answers older than ``ttl``; how many went."""
    purged = await repository.purge_idempotency_records(session, expired_before=utc_now() - ttl)
    await session.commit()
    return purged
