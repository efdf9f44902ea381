"""Security tickets from advisories, and what patch management does to tickets.

- ``advisory.matched``: one security ticket per client and advisory (deduplicated by the
  fingerprint ``advisory:<id>`` while open; each further affected environment counts as
  an occurrence), with a priority from the CVSS base score, so the plan's SLA applies.
- ``advisory.patched``: no environment of the client runs an affected version any more;
  the open security ticket is resolved with reason ``patched`` and the deployment.
- ``release.rolled_back``: tickets the release resolved reopen with reason ``rollback``;
  tickets awaiting its deploy stop awaiting it.

Each runs in the consumer's transaction (after the inbox check), so once per event.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain, filing
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.models import SCHEMA, Client, Ticket
from aftercare_intake.occurrence import Occurrence
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    AdvisoryMatched,
    AdvisoryPatched,
    EventPayload,
    Priority,
    ReleaseRolledBack,
    Severity,
    TicketReopened,
    TicketResolved,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event

SECURITY_KIND: Final = "security"
PATCHED_RESOLUTION: Final = "patched"
ROLLBACK_REASON: Final = "rollback"

_SEVERITY_OF_PRIORITY: Final[dict[Priority, Severity]] = {
    priority: severity for severity, priority in domain.SEVERITY_TO_PRIORITY.items()
}
_PRIORITY_OF_STATED_SEVERITY: Final[dict[str, Priority]] = {
    "CRITICAL": "P1",
    "HIGH": "P2",
    "MODERATE": "P3",
    "MEDIUM": "P3",
    "LOW": "P4",
}

# Advisory matches are few (one per affected environment): the default occurrence policy
# of the settings is ample, and a handler has no settings object to read another from.
ADVISORY_OCCURRENCE_POLICY: Final = OccurrencePolicy(
    samples=IntakeSettings.model_fields["occurrence_samples"].default,
    announce_interval=timedelta(
        seconds=IntakeSettings.model_fields["occurrence_event_interval_seconds"].default
    ),
)


def advisory_fingerprint(advisory_id: str) -> str:
    return f"advisory:{advisory_id}"


def advisory_priority(cvss_score: float | None, severity: str | None) -> Priority:
    """CVSS base score ≥ 9.0 P1, ≥ 7.0 P2, ≥ 4.0 P3, else P4; no score: the stated
    severity; neither: P2."""
    if cvss_score is not None:
        if cvss_score >= 9.0:
            return "P1"
        if cvss_score >= 7.0:
            return "P2"
        if cvss_score >= 4.0:
            return "P3"
        return "P4"
    return _PRIORITY_OF_STATED_SEVERITY.get((severity or "").strip().upper(), "P2")


def _title(matched: AdvisoryMatched) -> str:
    names = ", ".join([matched.advisory_id, *matched.aliases[:3]])
    what = matched.product or matched.component_purl or "a dependency"
    summary = f": {matched.summary}" if matched.summary else ""
    return f"Security advisory {names} affects {what}{summary}"[:500]


def _description(matched: AdvisoryMatched) -> str:
    fixed = ", ".join(matched.fixed_versions) or "none published yet"
    score = f"CVSS {matched.cvss_score}" if matched.cvss_score is not None else "no CVSS score"
    return (
        f"Installed version {matched.installed_version} in {matched.environment} is affected "
        f"({score}; stated severity {matched.severity or 'none'}). Fixed in: {fixed}."
    )


async def _emit(session: AsyncSession, payload: EventPayload, *, ticket: str, client: str) -> None:
    event = new_event(payload, service=ServiceName.INTAKE, subject=ticket, client_id=client)
    await enqueue_event(session, event, schema=SCHEMA)


async def open_security_ticket(session: AsyncSession, matched: AdvisoryMatched) -> None:
    if await session.get(Client, matched.client_id) is None:
        return  # a client this intake does not know (another installation's data)
    priority = advisory_priority(matched.cvss_score, matched.severity)
    severity = _SEVERITY_OF_PRIORITY[priority]
    fingerprint = advisory_fingerprint(matched.advisory_id)
    now = utc_now()
    title = _title(matched)
    await filing.file_occurrence(
        session,
        client_id=matched.client_id,
        occurrence=Occurrence(
            title=title,
            severity=severity,
            fingerprint=fingerprint,
            kind=SECURITY_KIND,
            description=_description(matched),
            environment=matched.environment,
            release=matched.installed_version,
            context={
                "advisory_id": matched.advisory_id,
                "aliases": matched.aliases,
                "product": matched.product,
                "component_purl": matched.component_purl,
                "fixed_versions": matched.fixed_versions,
                "cvss_score": matched.cvss_score,
                "severity": matched.severity,
            },
            occurred_at=now,
        ),
        policy=ADVISORY_OCCURRENCE_POLICY,
        now=now,
    )
    # The fingerprint routes every environment of the client to one ticket: a further
    # match is one more occurrence of it, and a match after a patch reopens it.


async def resolve_patched(session: AsyncSession, patched: AdvisoryPatched) -> None:
    statement = (
        select(Ticket)
        .where(
            Ticket.client_id == patched.client_id,
            Ticket.fingerprint == advisory_fingerprint(patched.advisory_id),
            Ticket.status.in_(domain.OPEN_STATUSES),
        )
        .with_for_update()
    )
    for ticket in (await session.scalars(statement)).all():
        ticket.status = domain.RESOLVED_STATUS
        ticket.resolved_at = patched.patched_at
        ticket.updated_at = utc_now()
        await _emit(
            session,
            TicketResolved(
                ticket_id=ticket.id,
                client_id=ticket.client_id,
                resolved_at=patched.patched_at,
                resolution=PATCHED_RESOLUTION,
                deployment_id=patched.deployment_id,
            ),
            ticket=ticket.id,
            client=ticket.client_id,
        )


async def reopen_rolled_back(session: AsyncSession, rolled_back: ReleaseRolledBack) -> None:
    if not rolled_back.ticket_ids:
        return
    # Tickets still awaiting this release's deploy no longer have a fix on its way.
    await session.execute(
        update(Ticket)
        .where(
            Ticket.id.in_(rolled_back.ticket_ids),
            Ticket.fix_release_id == rolled_back.release_id,
        )
        .values(fix_release_id=None, fix_released_at=None, updated_at=utc_now())
    )
    statement = (
        select(Ticket)
        .where(
            Ticket.id.in_(rolled_back.ticket_ids),
            Ticket.resolved_by_release_id == rolled_back.release_id,
            Ticket.status.in_(domain.FINISHED_STATUSES),
        )
        .order_by(Ticket.id)  # a fixed lock order
        .with_for_update()
    )
    for ticket in (await session.scalars(statement)).all():
        ticket.status = domain.REOPENED_STATUS
        ticket.resolved_at = None
        ticket.resolved_by_release_id = None
        ticket.updated_at = utc_now()
        await _emit(
            session,
            TicketReopened(
                ticket_id=ticket.id,
                client_id=ticket.client_id,
                reopened_at=rolled_back.rolled_back_at,
                status=domain.REOPENED_STATUS,
                reason=ROLLBACK_REASON,
            ),
            ticket=ticket.id,
            client=ticket.client_id,
        )
