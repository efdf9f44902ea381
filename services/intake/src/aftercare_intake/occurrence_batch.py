"""Count many occurrences of fingerprints that already exist, in one statement.

:func:`aftercare_intake.occurrence_store.record_occurrence` costs one statement per
occurrence; a timer round that records hundreds of misses on already open incidents would
pay hundreds of round trips. This is the same counting done set-based: the fingerprint
rows, their tickets (with the announcement decision), the sample ring, the tallies and
the announcement backlog, each one data-modifying CTE over all the batch's rows.

Only fingerprints that exist are counted here: opening a ticket stays on the one filing
path (:mod:`aftercare_intake.filing`). The caller gets back which occurrences found no
fingerprint (to file them one by one) and the tickets counted on, as
:class:`~aftercare_intake.occurrence_store.CountedTicket` (one per ticket: two
fingerprints merged into one ticket are counted on it together, announced once).

Fingerprints must be distinct within a batch (each row's sample slot and tallies are
upserted once per statement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import occurrence_store
from aftercare_intake.models import SCHEMA
from aftercare_intake.occurrence import Occurrence
from aftercare_intake.occurrence_store import CountedTicket

NOW = occurrence_store.NOW

_COUNT_MANY = text(
    f"""
    WITH input AS (
        SELECT * FROM unnest(
            CAST(:client_ids AS text[]), CAST(:fingerprints AS text[]),
            CAST(:sample_ids AS text[]), CAST(:event_ids AS text[]),
            CAST(:project_ids AS bigint[]), CAST(:occurred_ats AS timestamptz[]),
            CAST(:titles AS text[]), CAST(:severities AS text[]), CAST(:platforms AS text[]),
            CAST(:environments AS text[]), CAST(:releases AS text[]),
            CAST(:server_names AS text[]), CAST(:details AS jsonb[])
        ) AS i (client_id, fingerprint, sample_id, event_id, project_id, occurred_at, title,
                severity, platform, environment, release, server_name, details)
    ),
    route AS (
        UPDATE {SCHEMA}.ticket_fingerprints AS f
        SET occurrences = f.occurrences + 1,
            last_seen_at = GREATEST(f.last_seen_at, {NOW})
        FROM input
        WHERE f.client_id = input.client_id AND f.fingerprint = input.fingerprint
        RETURNING f.id, f.ticket_id, f.occurrences, input.*
    ),
    previous AS (
        SELECT ticket.id, ticket.occurrences_announced, ticket.occurrence_announced_at,
            added.n
        FROM {SCHEMA}.tickets AS ticket
        JOIN (SELECT ticket_id, count(*) AS n FROM route GROUP BY ticket_id) AS added
            ON added.ticket_id = ticket.id
        FOR UPDATE OF ticket
    ),
    counted AS (
        UPDATE {SCHEMA}.tickets AS ticket
        SET occurrences = ticket.occurrences + previous.n,
            last_seen_at = GREATEST(ticket.last_seen_at, {NOW}),
            updated_at = GREATEST(ticket.updated_at, {NOW}),
            occurrences_announced = CASE
                WHEN previous.occurrence_announced_at <= CAST(:announce_before AS timestamptz)
                THEN ticket.occurrences + previous.n ELSE ticket.occurrences_announced END,
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
    ),
    sample AS (
        INSERT INTO {SCHEMA}.occurrence_samples AS s
            (fingerprint_id, slot, id, number, event_id, project_id, created_at, occurred_at,
             title, severity, platform, environment, release, server_name, details)
        SELECT route.id,
               CASE WHEN route.occurrences <= 1 THEN 0
                    ELSE 1 + (route.occurrences - 2) % CAST(:samples AS integer) END,
               route.sample_id, route.occurrences, route.event_id, route.project_id, {NOW},
               route.occurred_at, route.title, route.severity, route.platform,
               route.environment, route.release, route.server_name, route.details
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
        FROM route CROSS JOIN LATERAL (VALUES ('release', route.release),
                                              ('environment', route.environment))
            AS v (dimension, value)
        WHERE v.value IS NOT NULL
        ON CONFLICT (fingerprint_id, dimension, value) DO UPDATE
        SET occurrences = t.occurrences + 1,
            last_seen_at = GREATEST(t.last_seen_at, EXCLUDED.last_seen_at)
    )
    SELECT route.client_id AS routed_client_id, route.fingerprint, route.ticket_id,
        {occurrence_store.COUNTED_COLUMNS}
    FROM route LEFT JOIN counted ON counted.id = route.ticket_id
    """  # noqa: S608 - formats in constants only (schema, casts)
)


@dataclass(frozen=True, slots=True)
class CountedMany:
    unrouted: list[tuple[str, Occurrence]]
    """``(client_id, occurrence)`` whose fingerprint does not exist: file them one by one."""
    tickets: list[tuple[CountedTicket, Occurrence]]
    """Each ticket counted on, with one of its occurrences (for a regression's reopening)."""


async def count_existing(
    session: AsyncSession,
    occurrences: Sequence[tuple[str, Occurrence]],
    *,
    sample_ids: Sequence[str],
    samples: int,
    now: datetime,
    announce_before: datetime,
) -> CountedMany:
    """Count ``(client_id, occurrence)`` pairs on their existing fingerprints' tickets."""
    if not occurrences:
        return CountedMany([], [])
    items = [occurrence for _, occurrence in occurrences]
    rows = (
        await session.execute(
            _COUNT_MANY,
            {
                "client_ids": [client_id for client_id, _ in occurrences],
                "fingerprints": [item.fingerprint for item in items],
                "sample_ids": list(sample_ids),
                "event_ids": [item.event_id for item in items],
                "project_ids": [item.project_id for item in items],
                "occurred_ats": [item.occurred_at for item in items],
                "titles": [item.title for item in items],
                "severities": [item.severity for item in items],
                "platforms": [item.platform for item in items],
                "environments": [item.environment for item in items],
                "releases": [item.release for item in items],
                "server_names": [item.server_name for item in items],
                "details": [orjson.dumps(item.details).decode() for item in items],
                "samples": samples,
                "now": now,
                "announce_before": announce_before,
            },
        )
    ).all()
    by_key = {(client_id, item.fingerprint): item for client_id, item in occurrences}
    routed: set[tuple[str, str]] = set()
    tickets: dict[str, tuple[CountedTicket, Occurrence]] = {}
    for row in rows:
        key = (row.routed_client_id, row.fingerprint)
        routed.add(key)
        if row.counted_id is None:
            # The ticket was created by a transaction committed after this statement's
            # snapshot: count on it with a fresh one, as the one-by-one path does.
            counted = await occurrence_store.count_on_ticket(
                session, ticket_id=row.ticket_id, now=now, announce_before=announce_before
            )
            tickets[counted.ticket_id] = (counted, by_key[key])
        elif row.counted_id not in tickets:
            tickets[row.counted_id] = (occurrence_store.counted_ticket(row), by_key[key])
    unrouted = [
        (client_id, item)
        for client_id, item in occurrences
        if (client_id, item.fingerprint) not in routed
    ]
    return CountedMany(unrouted, list(tickets.values()))
