"""The write path of every occurrence: set-based SQL, one statement, never a commit.

:func:`record_occurrence` is one statement of data-modifying CTEs:

- it claims (or counts on) the client's fingerprint row in ``ticket_fingerprints``. The
  row lock it takes serialises a storm of one fingerprint across every replica, so the
  counts are exact: increments in SQL, never read-modify-write;
- it inserts the ticket when the fingerprint is new, or counts one more occurrence on the
  ticket the fingerprint routes to, deciding in SQL whether to announce it (coalescing);
- it keeps the occurrence's sample and its per-release and per-environment tallies.

One statement, so a storm holds the fingerprint's row lock for one round trip and the
commit, not more. Its snapshot is taken before the lock is granted, so when a concurrent
transaction has just created the fingerprint (and its ticket), the ticket is not visible
to it: then a second statement, with a fresh snapshot, counts on the ticket.

Samples: slot 0 keeps a fingerprint's first occurrence for good; slots 1..N form a ring
the later ones go round (the n-th occurrence lands in 1 + (n - 2) mod N), so the latest N
are always kept and the table never holds more than N + 1 rows per fingerprint, however
long the storm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.models import SCHEMA
from aftercare_shared.events.catalog import Priority, TicketStatus

NOW = "CAST(:now AS timestamptz)"


@dataclass(frozen=True, slots=True)
class Route:
    fingerprint_id: int
    ticket_id: str
    number: int
    """This occurrence's number within its fingerprint (1 = the first)."""
    created: bool
    """The fingerprint was new: this occurrence opened the ticket."""


@dataclass(frozen=True, slots=True)
class SampleRow:
    """What one occurrence keeps in full."""

    sample_id: str
    event_id: str | None
    project_id: int | None
    occurred_at: datetime | None
    title: str
    severity: str
    platform: str | None
    environment: str | None
    release: str | None
    server_name: str | None
    details: dict[str, Any]

    def parameters(self) -> dict[str, Any]:
        return {
            "sample_id": self.sample_id,
            "event_id": self.event_id,
            "project_id": self.project_id,
            "occurred_at": self.occurred_at,
            "sample_title": self.title,
            "sample_severity": self.severity,
            "platform": self.platform,
            "environment": self.environment,
            "release": self.release,
            "server_name": self.server_name,
            "details": orjson.dumps(self.details).decode(),
        }


@dataclass(frozen=True, slots=True)
class CountedTicket:
    ticket_id: str
    client_id: str
    status: TicketStatus
    priority: Priority
    occurrences: int
    announced_now: bool
    """This occurrence is the first after a quiet interval: announce it now."""
    announced_before: int
    announced_at_before: datetime
    close_reason: str | None
    fixed_in_product: str | None
    fixed_in_version: str | None


@dataclass(frozen=True, slots=True)
class Recorded:
    route: Route
    counted: CountedTicket | None
    """The existing ticket the occurrence was counted on; None when it opened the ticket."""


# Counting on an existing ticket: lock it, add one, and announce when the last announcement
# is older than the interval. ``previous`` keeps the counts as they were, for the event.
_COUNT_CTES = f"""
    previous AS (
        SELECT ticket.id, ticket.occurrences_announced, ticket.occurrence_announced_at
        FROM {SCHEMA}.tickets AS ticket
        WHERE ticket.id = (SELECT ticket_id FROM route WHERE NOT route.created)
        FOR UPDATE OF ticket
    ),
    counted AS (
        UPDATE {SCHEMA}.tickets AS ticket
        SET occurrences = ticket.occurrences + 1,
            last_seen_at = GREATEST(ticket.last_seen_at, {NOW}),
            updated_at = GREATEST(ticket.updated_at, {NOW}),
            occurrences_announced = CASE
                WHEN previous.occurrence_announced_at <= CAST(:announce_before AS timestamptz)
                THEN ticket.occurrences + 1 ELSE ticket.occurrences_announced END,
            occurrence_announced_at = CASE
                WHEN previous.occurrence_announced_at <= CAST(:announce_before AS timestamptz)
                THEN {NOW} ELSE ticket.occurrence_announced_at END
        FROM previous
        WHERE ticket.id = previous.id
        RETURNING ticket.id, ticket.client_id, ticket.status, ticket.priority,
            ticket.occurrences, ticket.occurrences_announced,
            previous.occurrences_announced AS announced_before,
            previous.occurrence_announced_at AS announced_at_before,
            ticket.close_reason, ticket.fixed_in_product, ticket.fixed_in_version
    ),
    backlog AS (
        INSERT INTO {SCHEMA}.occurrence_backlog (ticket_id)
        SELECT id FROM counted WHERE counted.occurrences > counted.occurrences_announced
        ON CONFLICT DO NOTHING
    )
"""  # noqa: S608 - formats in constants only (schema, casts)

COUNTED_COLUMNS = """counted.id AS counted_id, counted.client_id, counted.status,
    counted.priority, counted.occurrences, counted.occurrences_announced,
    counted.announced_before, counted.announced_at_before, counted.close_reason,
    counted.fixed_in_product, counted.fixed_in_version"""


def record_ctes() -> str:
    """The CTEs that count one occurrence (``route`` … ``tallies``), for a ``WITH``: this
    module's statement, and the report fast path's (which adds its outbox row)."""
    return f"""
    route AS (
        INSERT INTO {SCHEMA}.ticket_fingerprints AS f
            (client_id, fingerprint, ticket_id, origin_ticket_id, occurrences,
             first_seen_at, last_seen_at)
        VALUES (:client_id, :fingerprint, :new_ticket_id, :new_ticket_id, 1, {NOW}, {NOW})
        ON CONFLICT (client_id, fingerprint) DO UPDATE
        SET occurrences = f.occurrences + 1,
            last_seen_at = GREATEST(f.last_seen_at, EXCLUDED.last_seen_at)
        RETURNING f.id, f.ticket_id, f.occurrences, (f.xmax = 0) AS created
    ),
    opened AS (
        INSERT INTO {SCHEMA}.tickets
            (id, client_id, title, description, severity, priority, kind, status, fingerprint,
             environment, release, stacktrace, context, platform, occurrences,
             occurrences_announced, first_seen_at, last_seen_at, occurrence_announced_at,
             created_at, updated_at)
        SELECT route.ticket_id, :client_id, :title, :description, :severity, :priority, :kind,
               :status, :fingerprint, CAST(:environment AS text), CAST(:release AS text),
               :stacktrace, CAST(:context AS jsonb), :platform, 1, 1, {NOW}, {NOW}, {NOW},
               {NOW}, {NOW}
        FROM route WHERE route.created
    ),
    {_COUNT_CTES},
    sample AS (
        INSERT INTO {SCHEMA}.occurrence_samples AS s
            (fingerprint_id, slot, id, number, event_id, project_id, created_at, occurred_at,
             title, severity, platform, environment, release, server_name, details)
        SELECT route.id,
               CASE WHEN route.occurrences <= 1 THEN 0
                    ELSE 1 + (route.occurrences - 2) % CAST(:samples AS integer) END,
               :sample_id, route.occurrences, :event_id, :project_id, {NOW},
               CAST(:occurred_at AS timestamptz), :sample_title, :sample_severity, :platform,
               CAST(:environment AS text), CAST(:release AS text), :server_name,
               CAST(:details AS jsonb)
        FROM route
        ON CONFLICT (fingerprint_id, slot) DO UPDATE
        SET id = EXCLUDED.id, number = EXCLUDED.number, event_id = EXCLUDED.event_id,
            project_id = EXCLUDED.project_id, created_at = EXCLUDED.created_at,
            occurred_at = EXCLUDED.occurred_at, title = EXCLUDED.title,
            severity = EXCLUDED.severity, platform = EXCLUDED.platform,
            environment = EXCLUDED.environment, release = EXCLUDED.release,
            server_name = EXCLUDED.server_name, details = EXCLUDED.details
        WHERE s.number < EXCLUDED.number
    ),
    tallies AS (
        INSERT INTO {SCHEMA}.fingerprint_tallies AS t
            (fingerprint_id, dimension, value, occurrences, first_seen_at, last_seen_at)
        SELECT route.id, v.dimension, v.value, 1, {NOW}, {NOW}
        FROM route, (VALUES ('release', CAST(:release AS text)),
                            ('environment', CAST(:environment AS text))) AS v (dimension, value)
        WHERE v.value IS NOT NULL
        ON CONFLICT (fingerprint_id, dimension, value) DO UPDATE
        SET occurrences = t.occurrences + 1,
            last_seen_at = GREATEST(t.last_seen_at, EXCLUDED.last_seen_at)
    )
    """  # noqa: S608 - formats in constants only (schema, casts)


_RECORD = text(
    f"""
    WITH {record_ctes()}
    SELECT route.id AS fingerprint_id, route.ticket_id, route.occurrences AS number,
        route.created, {COUNTED_COLUMNS}
    FROM route LEFT JOIN counted ON true
    """  # noqa: S608 - formats in constants only (schema, casts)
)

# The second statement, for a ticket created by a transaction that committed while the
# first one waited on the fingerprint row: a fresh snapshot sees it.
_COUNT_ONLY = text(
    f"""
    WITH route AS (SELECT CAST(:ticket_id AS text) AS ticket_id, false AS created),
    {_COUNT_CTES}
    SELECT {COUNTED_COLUMNS} FROM counted
    """  # noqa: S608 - formats in constants only (schema, casts)
)


async def record_occurrence(
    session: AsyncSession,
    *,
    client_id: str,
    fingerprint: str,
    new_ticket: dict[str, Any],
    new_ticket_id: str,
    sample: SampleRow,
    samples: int,
    now: datetime,
    announce_before: datetime,
) -> Recorded:
    """Count one occurrence of ``fingerprint`` (opening its ticket from ``new_ticket`` when
    the fingerprint is new) and keep its sample and tallies."""
    parameters = record_parameters(
        client_id=client_id,
        fingerprint=fingerprint,
        new_ticket=new_ticket,
        new_ticket_id=new_ticket_id,
        sample=sample,
        samples=samples,
        now=now,
        announce_before=announce_before,
    )
    row = (await session.execute(_RECORD, parameters)).one()
    route = Route(
        fingerprint_id=row.fingerprint_id,
        ticket_id=row.ticket_id,
        number=row.number,
        created=row.created,
    )
    if route.created:
        return Recorded(route, None)
    if row.counted_id is None:
        return Recorded(
            route,
            await count_on_ticket(
                session, ticket_id=route.ticket_id, now=now, announce_before=announce_before
            ),
        )
    return Recorded(route, counted_ticket(row))


def record_parameters(
    *,
    client_id: str,
    fingerprint: str,
    new_ticket: dict[str, Any],
    new_ticket_id: str,
    sample: SampleRow,
    samples: int,
    now: datetime,
    announce_before: datetime,
) -> dict[str, Any]:
    """The parameters of :func:`record_ctes`."""
    return {
        **new_ticket,
        "client_id": client_id,
        "fingerprint": fingerprint,
        "new_ticket_id": new_ticket_id,
        "context": None
        if new_ticket["context"] is None
        else orjson.dumps(new_ticket["context"]).decode(),
        **sample.parameters(),
        "samples": samples,
        "now": now,
        "announce_before": announce_before,
    }


async def count_on_ticket(
    session: AsyncSession, *, ticket_id: str, now: datetime, announce_before: datetime
) -> CountedTicket:
    """Count one occurrence on ``ticket_id`` in a statement of its own (fresh snapshot),
    for a ticket a concurrent transaction created after the caller's snapshot."""
    row = (
        await session.execute(
            _COUNT_ONLY, {"ticket_id": ticket_id, "now": now, "announce_before": announce_before}
        )
    ).one()
    return counted_ticket(row)


def counted_ticket(row: Any) -> CountedTicket:
    return CountedTicket(
        ticket_id=row.counted_id,
        client_id=row.client_id,
        status=row.status,
        priority=row.priority,
        occurrences=row.occurrences,
        announced_now=row.occurrences_announced == row.occurrences,
        announced_before=row.announced_before,
        announced_at_before=row.announced_at_before,
        close_reason=row.close_reason,
        fixed_in_product=row.fixed_in_product,
        fixed_in_version=row.fixed_in_version,
    )


@dataclass(frozen=True, slots=True)
class DueAnnouncement:
    ticket_id: str
    client_id: str
    occurrences: int
    announced_before: int
    announced_at_before: datetime
    last_seen_at: datetime


_FLUSH_ANNOUNCEMENTS = text(
    f"""
    WITH due AS (
        SELECT ticket.id, ticket.occurrences_announced, ticket.occurrence_announced_at
        FROM {SCHEMA}.occurrence_backlog AS backlog
        JOIN {SCHEMA}.tickets AS ticket ON ticket.id = backlog.ticket_id
        WHERE ticket.occurrence_announced_at <= CAST(:announce_before AS timestamptz)
        ORDER BY ticket.occurrence_announced_at
        LIMIT :batch_size
        FOR UPDATE OF ticket SKIP LOCKED
    ),
    announced AS (
        UPDATE {SCHEMA}.tickets AS ticket
        SET occurrences_announced = ticket.occurrences, occurrence_announced_at = {NOW}
        FROM due
        WHERE ticket.id = due.id AND ticket.occurrences > ticket.occurrences_announced
        RETURNING ticket.id, ticket.client_id, ticket.occurrences,
            due.occurrences_announced AS announced_before,
            due.occurrence_announced_at AS announced_at_before, ticket.last_seen_at
    ),
    cleared AS (
        DELETE FROM {SCHEMA}.occurrence_backlog AS backlog
        USING due WHERE backlog.ticket_id = due.id
        RETURNING backlog.ticket_id
    )
    SELECT announced.*, (SELECT count(*) FROM cleared) AS cleared FROM announced
    RIGHT JOIN (SELECT 1) AS always ON true
    """  # noqa: S608 - formats in constants only (schema, casts)
)


async def claim_due_announcements(
    session: AsyncSession, *, announce_before: datetime, now: datetime, batch_size: int
) -> tuple[list[DueAnnouncement], int]:
    """Tickets whose unannounced occurrences are due, marked announced; and how many
    backlog entries this round cleared (announced or not, e.g. already announced)."""
    rows = (
        await session.execute(
            _FLUSH_ANNOUNCEMENTS,
            {"announce_before": announce_before, "now": now, "batch_size": batch_size},
        )
    ).all()
    cleared = int(rows[0].cleared) if rows else 0
    return [
        DueAnnouncement(
            ticket_id=row.id,
            client_id=row.client_id,
            occurrences=row.occurrences,
            announced_before=row.announced_before,
            announced_at_before=row.announced_at_before,
            last_seen_at=row.last_seen_at,
        )
        for row in rows
        if row.id is not None
    ], cleared
