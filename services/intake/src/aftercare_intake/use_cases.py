"""Intake's use cases: each is one transaction that changes state and queues its events."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain, repository
from aftercare_intake.models import SCHEMA, ApiKey, Client, Comment, ProcessedRelease, Ticket
from aftercare_intake.schemas import ReportAccepted, ReportCreate
from aftercare_shared.auth import generate_api_key
from aftercare_shared.auth.api_keys import NewApiKey
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    ClientApiKeyRevoked,
    ClientCreated,
    ClientUpdated,
    EventPayload,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketOccurred,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.problems import PROBLEM_BASE_URI, Problem

SERVICE = "intake"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


async def _emit(
    session: AsyncSession, payload: EventPayload, *, subject: str, client_id: str | None
) -> None:
    event = new_event(payload, service=SERVICE, subject=subject, client_id=client_id)
    await enqueue_event(session, event, schema=SCHEMA)


def not_found(what: str) -> Problem:
    return Problem(404, f"No {what} with that id.", problem_type=PROBLEM_BASE_URI + "not-found")


# --- clients and keys -----------------------------------------------------------------


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


async def rename_client(session: AsyncSession, *, client_id: str, name: str) -> Client:
    client = await session.get(Client, client_id, with_for_update=True)
    if client is None:
        raise not_found("client")
    client.name = name
    client.updated_at = utc_now()
    await _emit(
        session,
        ClientUpdated(client_id=client.id, name=name, updated_at=client.updated_at),
        subject=client.id,
        client_id=client.id,
    )
    await session.commit()
    return client


async def issue_api_key(
    session: AsyncSession, *, client_id: str, name: str | None
) -> tuple[ApiKey, NewApiKey]:
    if await session.get(Client, client_id) is None:
        raise not_found("client")
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


async def revoke_api_key(session: AsyncSession, *, api_key_id: str) -> None:
    api_key = await session.get(ApiKey, api_key_id, with_for_update=True)
    if api_key is None:
        raise not_found("API key")
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
        earlier = await repository.claim_idempotency_key(
            session,
            client_id=client_id,
            key=idempotency_key,
            request_hash=_request_hash(report),
            expired_before=utc_now() - idempotency_ttl,
        )
        if earlier is not None:
            stored_hash = earlier.request_hash
            stored = (earlier.response_status, earlier.response_body)
            await session.rollback()
            if stored_hash != _request_hash(report):
                raise Problem(
                    422,
                    "This Idempotency-Key was already used with a different request body.",
                    problem_type=PROBLEM_BASE_URI + "idempotency-key-reused",
                )
            status_code, body = stored
            assert status_code is not None
            assert body is not None
            return ReportOutcome(status_code, body)

    now = utc_now()
    priority = domain.priority_for(report.severity)
    fingerprint = report.fingerprint or domain.default_fingerprint(
        title=report.title, kind=report.kind, stacktrace=report.stacktrace
    )
    upserted = await repository.upsert_ticket_for_report(
        session,
        values={
            "id": new_id(),
            "client_id": client_id,
            "title": report.title,
            "description": report.description,
            "severity": report.severity,
            "priority": priority,
            "kind": report.kind,
            "status": "new",
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
        },
        now=now,
    )
    if upserted.created:
        await _emit(
            session,
            TicketCreated(
                ticket_id=upserted.ticket_id,
                client_id=client_id,
                title=report.title,
                severity=report.severity,
                priority=priority,
                status="new",
                kind=report.kind,
                environment=report.environment,
                release=report.release,
                fingerprint=fingerprint,
                created_at=now,
            ),
            subject=upserted.ticket_id,
            client_id=client_id,
        )
    elif domain.announces_occurrence(upserted.occurrences):
        await _emit(
            session,
            TicketOccurred(
                ticket_id=upserted.ticket_id,
                client_id=client_id,
                occurrences=upserted.occurrences,
                occurred_at=now,
            ),
            subject=upserted.ticket_id,
            client_id=client_id,
        )
    body = ReportAccepted(
        ticket_id=upserted.ticket_id,
        status=upserted.status,
        priority=upserted.priority,
        occurrences=upserted.occurrences,
        deduplicated=not upserted.created,
    ).model_dump(mode="json")
    status_code = 201 if upserted.created else 200
    if idempotency_key is not None:
        await repository.store_idempotent_response(
            session, client_id=client_id, key=idempotency_key, status=status_code, body=body
        )
    await session.commit()
    return ReportOutcome(status_code, body)


# --- tickets ----------------------------------------------------------------------------


async def update_ticket(
    session: AsyncSession, *, ticket_id: str, status: str | None, priority: str | None
) -> Ticket:
    ticket = await session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        raise not_found("ticket")
    changed: list[str] = []
    now = utc_now()
    previous_status = ticket.status
    if status is not None and status != ticket.status:
        try:
            domain.check_transition(ticket.status, status)
        except domain.TransitionNotAllowedError as error:
            raise Problem(
                409, str(error), problem_type=PROBLEM_BASE_URI + "transition-not-allowed"
            ) from error
        ticket.status = status
        changed.append("status")
    if priority is not None and priority != ticket.priority:
        ticket.priority = priority
        changed.append("priority")
    if not changed:
        return ticket
    ticket.updated_at = now
    subject, client_id = ticket.id, ticket.client_id
    payload: EventPayload
    if "status" in changed and domain.is_reopen(previous_status, ticket.status):
        ticket.resolved_at = None
        payload = TicketReopened(ticket_id=subject, client_id=client_id, reopened_at=now)
    elif "status" in changed and ticket.status == "resolved":
        ticket.resolved_at = now
        payload = TicketResolved(
            ticket_id=subject, client_id=client_id, resolved_at=now, resolution="manual"
        )
    elif "status" in changed and ticket.status == "closed":
        payload = TicketClosed(ticket_id=subject, client_id=client_id, closed_at=now)
    else:
        payload = TicketUpdated(
            ticket_id=subject,
            client_id=client_id,
            status=ticket.status,
            priority=ticket.priority,
            changed=changed,
            updated_at=now,
        )
    await _emit(session, payload, subject=subject, client_id=client_id)
    if "priority" in changed and not isinstance(payload, TicketUpdated):
        # A status event does not carry the new priority: say it separately so SLA re-targets.
        await _emit(
            session,
            TicketUpdated(
                ticket_id=subject,
                client_id=client_id,
                status=ticket.status,
                priority=ticket.priority,
                changed=["priority"],
                updated_at=now,
            ),
            subject=subject,
            client_id=client_id,
        )
    await session.commit()
    return ticket


async def add_comment(
    session: AsyncSession, *, ticket: Ticket, author_kind: str, author: str, body: str
) -> Comment:
    now = utc_now()
    comment = Comment(
        id=new_id(),
        ticket_id=ticket.id,
        author_kind=author_kind,
        author=author,
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


# --- reactions to other services' events -------------------------------------------------


async def resolve_tickets_fixed_by_release(
    session: AsyncSession, *, release_id: str, ticket_ids: list[str], published_at: datetime
) -> int:
    """Resolve the open tickets a published release lists. Runs in the consumer's transaction."""
    already = await session.get(ProcessedRelease, release_id)
    if already is not None:
        return 0
    tickets = await repository.lock_open_tickets(session, ticket_ids) if ticket_ids else []
    for ticket in tickets:
        ticket.status = "resolved"
        ticket.resolved_at = published_at
        ticket.resolved_by_release_id = release_id
        ticket.updated_at = utc_now()
        await _emit(
            session,
            TicketResolved(
                ticket_id=ticket.id,
                client_id=ticket.client_id,
                resolved_at=published_at,
                release_id=release_id,
                resolution="released",
            ),
            subject=ticket.id,
            client_id=ticket.client_id,
        )
    session.add(
        ProcessedRelease(release_id=release_id, resolved_count=len(tickets), processed_at=utc_now())
    )
    return len(tickets)


async def record_sla_state(
    session: AsyncSession, *, ticket_id: str, metric: str, state: dict[str, Any]
) -> None:
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None:
        return  # the ticket lives elsewhere (another deployment's data); nothing to show
    ticket.sla_status = {**ticket.sla_status, metric: state}
