"""What the bench reads straight from intake's database: facts no HTTP answer gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class FingerprintTickets:
    tickets: int
    occurrences: int


async def unpublished_outbox_rows(connection: asyncpg.Connection) -> int:
    count = await connection.fetchval(
        "SELECT count(*) FROM intake.outbox WHERE published_at IS NULL"
    )
    return int(count)


@dataclass(frozen=True, slots=True)
class CommittedReports:
    tickets: int
    with_outbox_row: int
    """Tickets whose ``ticket.created`` event is in the outbox (published or not)."""


async def committed_reports(
    connection: asyncpg.Connection, fingerprint_prefix: str
) -> CommittedReports:
    """Tickets of one load (their fingerprints share a prefix) and their outbox rows."""
    row = await connection.fetchrow(
        "SELECT count(DISTINCT t.id) AS tickets, count(DISTINCT o.record_key) AS with_outbox_row"
        " FROM intake.tickets t LEFT JOIN intake.outbox o"
        " ON o.record_key = t.id AND o.topic = 'aftercare.tickets'"
        " WHERE t.fingerprint LIKE $1",
        fingerprint_prefix.replace("%", "").replace("_", "\\_") + "%",
    )
    assert row is not None
    return CommittedReports(
        tickets=int(row["tickets"]), with_outbox_row=int(row["with_outbox_row"])
    )


async def tickets_with_fingerprint(
    connection: asyncpg.Connection, fingerprint: str
) -> FingerprintTickets:
    row = await connection.fetchrow(
        "SELECT count(*) AS tickets, coalesce(sum(occurrences), 0) AS occurrences"
        " FROM intake.tickets WHERE fingerprint = $1",
        fingerprint,
    )
    assert row is not None
    return FingerprintTickets(tickets=int(row["tickets"]), occurrences=int(row["occurrences"]))


async def outbox_claim_lag_ms(
    connection: asyncpg.Connection, since: datetime, quantiles: tuple[float, ...]
) -> dict[str, float | None]:
    """Outbox wait of rows written since ``since``: ``published_at - created_at``.

    Both are ``now()`` of their transaction, so this is the time from the report's
    transaction starting to the relay's claiming transaction starting.
    """
    row = await connection.fetchrow(
        "SELECT percentile_cont($2::float8[]) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM published_at - created_at)) AS seconds"
        " FROM intake.outbox WHERE created_at >= $1 AND published_at IS NOT NULL",
        since,
        list(quantiles),
    )
    values = row["seconds"] if row is not None else None
    if values is None:
        return {f"p{round(q * 100):d}": None for q in quantiles}
    return {
        f"p{round(q * 100):d}": None if value is None else value * 1000
        for q, value in zip(quantiles, values, strict=True)
    }
