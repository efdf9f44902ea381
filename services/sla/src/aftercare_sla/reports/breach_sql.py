"""The breaches of a report: each breached clock with how its ticket's open stretches ended.

Postgres picks the breached clocks and, per clock, looks up its ticket's stretches (by the
spans' primary key), so only the breaches travel to Python, not the month's clocks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_sla.models import SCHEMA
from aftercare_sla.reports.clock_sql import ClockFilter, judged_clocks
from aftercare_sla.reports.figures import seconds


def _statement(clocks: ClockFilter) -> Any:
    # The rules of ``late``: the ticket is still open at as_of (or has no stretch at all),
    # or else the first end of a stretch at or after the due time (before as_of); its
    # ``ended_by`` from the earliest-opened stretch ending then. COLLATE "C": ties ordered
    # by code point, as Python compares strings.
    return text(
        f"""
        WITH judged AS ({judged_clocks(clocks)})
        SELECT c.ticket_id, c.metric, c.priority, c.started_at, c.due_at, c.breached_at,
               spans.stretches, spans.open_now, spans.ended_at, ending.ended_by
        FROM judged c
        CROSS JOIN LATERAL (
            SELECT count(*) AS stretches,
                   COALESCE(bool_or(s.opened_at <= CAST(:as_of AS timestamptz)
                                    AND (s.ended_at IS NULL
                                         OR s.ended_at > CAST(:as_of AS timestamptz))),
                            false) AS open_now,
                   min(s.ended_at) FILTER (WHERE s.ended_at >= c.due_at
                                           AND s.ended_at < CAST(:as_of AS timestamptz))
                       AS ended_at
            FROM {SCHEMA}.report_ticket_spans s
            WHERE s.ticket_id = c.ticket_id
        ) spans
        LEFT JOIN LATERAL (
            SELECT s.ended_by
            FROM {SCHEMA}.report_ticket_spans s
            WHERE s.ticket_id = c.ticket_id AND s.ended_at = spans.ended_at
            ORDER BY s.opened_at
            LIMIT 1
        ) ending ON true
        WHERE c.state = 'breached'
        ORDER BY c.due_at, c.ticket_id COLLATE "C", c.metric COLLATE "C"
        """  # noqa: S608 - the schema is a constant, the clauses fixed fragments
    )


async def breach_rows(session: AsyncSession, clocks: ClockFilter) -> list[dict[str, Any]]:
    """Each breached clock: when due, and how late it was when its ticket was resolved or
    closed (or, still open, at ``as_of``)."""
    rows = await session.execute(_statement(clocks), clocks.parameters())
    return [_breach(row, as_of=clocks.as_of) for row in rows]


def _breach(row: Any, *, as_of: datetime) -> dict[str, Any]:
    still_open = row.open_now or row.stretches == 0
    ended_at = None if still_open else row.ended_at
    return {
        "ticket_id": row.ticket_id,
        "metric": row.metric,
        "priority": row.priority,
        "started_at": row.started_at.isoformat(),
        "due_at": row.due_at.isoformat(),
        "breached_at": row.breached_at.isoformat() if row.breached_at else None,
        "status": "open" if ended_at is None else row.ended_by,
        "ended_at": ended_at.isoformat() if ended_at else None,
        "late_seconds": seconds((ended_at or as_of) - row.due_at),
    }
