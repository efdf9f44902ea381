"""An incident's ticket, opened and counted through intake's own filing path.

A monitor's incident is an occurrence like any other: :func:`aftercare_intake.filing.
file_occurrence` opens the ticket (``ticket.created``, so sla starts the plan's clocks)
or counts one more occurrence on it. Each incident has its own fingerprint
(``monitor:<id>:<n>``), so the n-th incident opens a fresh ticket and every further miss
while it lasts is an occurrence of that one. Recovery resolves the ticket with
resolution ``recovered``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain, filing, history
from aftercare_intake.announcements import announce
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.filing import Filed
from aftercare_intake.models import Monitor, Ticket
from aftercare_intake.occurrence import Occurrence
from aftercare_shared.events.catalog import Priority, Severity, TicketResolved

INCIDENT_KIND = "incident"
RECOVERED_RESOLUTION = "recovered"
SEVERITY_OF_PRIORITY: dict[Priority, Severity] = {
    priority: severity for severity, priority in domain.SEVERITY_TO_PRIORITY.items()
}


def monitor_actor(monitor_id: str) -> str:
    return f"monitor:{monitor_id}"


def incident_fingerprint(monitor: Monitor) -> str:
    return f"monitor:{monitor.id}:{monitor.incident_count}"


def certificate_fingerprint(monitor: Monitor, certificate_sha256: str) -> str:
    return f"monitor:{monitor.id}:certificate:{certificate_sha256}"


def incident_occurrence(
    monitor: Monitor,
    *,
    title: str,
    detail: str | None,
    fingerprint: str,
    priority: Priority,
    now: datetime,
    details: dict[str, Any],
) -> Occurrence:
    """What one bad outcome of ``monitor`` files on its incident's ticket."""
    return Occurrence(
        title=f"{monitor.name}: {title}",
        severity=SEVERITY_OF_PRIORITY[priority],
        fingerprint=fingerprint,
        kind=INCIDENT_KIND,
        description=detail,
        environment=monitor.environment,
        occurred_at=now,
        details={"monitor_id": monitor.id, "monitor_slug": monitor.slug, **details},
    )


async def file_incident(
    session: AsyncSession,
    monitor: Monitor,
    *,
    title: str,
    detail: str | None,
    fingerprint: str,
    priority: Priority,
    now: datetime,
    policy: OccurrencePolicy,
    details: dict[str, Any],
) -> Filed:
    occurrence = incident_occurrence(
        monitor,
        title=title,
        detail=detail,
        fingerprint=fingerprint,
        priority=priority,
        now=now,
        details=details,
    )
    return await filing.file_occurrence(
        session, client_id=monitor.client_id, occurrence=occurrence, policy=policy, now=now
    )


async def resolve_recovered(
    session: AsyncSession, *, ticket_id: str, monitor_id: str, now: datetime
) -> bool:
    """Resolve the incident's ticket (``recovered``), unless staff finished it already."""
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None or ticket.status in domain.FINISHED_STATUSES:
        return False
    previous = ticket.status
    ticket.status = domain.RESOLVED_STATUS
    ticket.resolved_at = now
    ticket.updated_at = now
    await history.record(
        session,
        ticket_id=ticket.id,
        action="resolved",
        actor=monitor_actor(monitor_id),
        details={"from": previous, "reason": RECOVERED_RESOLUTION},
        now=now,
    )
    await announce(
        session,
        TicketResolved(
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            resolved_at=now,
            resolution=RECOVERED_RESOLUTION,
        ),
        subject=ticket.id,
        client_id=ticket.client_id,
    )
    return True
