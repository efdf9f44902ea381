"""Ticket figures added up by Postgres: counts by kind and priority, backlogs, MTTR.

A busy client opens and resolves thousands of tickets a month; counting them where they
are spares reading every row into Python. Only counts and the one oldest open ticket come
back. Rules: the README's "Reports: counting rules".
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_sla.models import SCHEMA

UNKNOWN_KIND = "unspecified"

# ``ticket.kind or "unspecified"`` in SQL: no kind, or an empty one.
_KIND = f"COALESCE(NULLIF(t.kind, ''), '{UNKNOWN_KIND}')"

_OPENED = text(
    f"""
    SELECT {_KIND} AS kind, t.priority, count(*) AS tickets
    FROM {SCHEMA}.report_tickets t
    WHERE t.client_id = :client_id AND t.created_at >= :start AND t.created_at < :end
    GROUP BY 1, 2
    """  # noqa: S608 - the schema is a constant
)

_RESOLVED = text(
    f"""
    SELECT {_KIND} AS kind, t.priority, count(*) AS tickets
    FROM {SCHEMA}.report_resolutions r
    JOIN {SCHEMA}.report_tickets t ON t.ticket_id = r.ticket_id
    WHERE r.client_id = :client_id AND r.resolved_at >= :start AND r.resolved_at < :end
    GROUP BY 1, 2
    """  # noqa: S608 - the schema is a constant
)

# A ticket is open at a moment when one of its stretches is: opened at or before it and not
# ended by then. Only stretches touching [start, end] can be open at either end.
_OPEN_AT = (
    "s.opened_at <= CAST(:{0} AS timestamptz)"
    " AND (s.ended_at IS NULL OR s.ended_at > CAST(:{0} AS timestamptz))"
)

_BACKLOGS = text(
    f"""
    SELECT count(DISTINCT s.ticket_id) FILTER (WHERE {_OPEN_AT.format("before_start")})
               AS backlog_start,
           count(DISTINCT s.ticket_id) FILTER (WHERE {_OPEN_AT.format("end")}) AS backlog_end
    FROM {SCHEMA}.report_ticket_spans s
    WHERE s.client_id = :client_id AND s.opened_at <= CAST(:end AS timestamptz)
      AND (s.ended_at IS NULL OR s.ended_at >= CAST(:start AS timestamptz))
    """  # noqa: S608 - the schema is a constant
)

# COLLATE "C": a tie on created_at goes to the smaller id by code point, as in Python.
_OLDEST_OPEN = text(
    f"""
    SELECT t.ticket_id, t.title, t.priority, t.created_at
    FROM {SCHEMA}.report_tickets t
    WHERE t.ticket_id IN (
        SELECT s.ticket_id FROM {SCHEMA}.report_ticket_spans s
        WHERE s.client_id = :client_id AND {_OPEN_AT.format("end")}
    )
    ORDER BY t.created_at, t.ticket_id COLLATE "C"
    LIMIT 1
    """  # noqa: S608 - the schema is a constant
)


async def opened_by_kind_and_priority(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> Counter[tuple[str, str]]:
    """Tickets created in ``[start, end)``, by (kind, priority)."""
    rows = await session.execute(_OPENED, {"client_id": client_id, "start": start, "end": end})
    return Counter({(row.kind, row.priority): row.tickets for row in rows})


async def resolved_by_kind_and_priority(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> Counter[tuple[str, str]]:
    """Resolutions in ``[start, end)`` (a ticket resolved twice counts twice)."""
    rows = await session.execute(_RESOLVED, {"client_id": client_id, "start": start, "end": end})
    return Counter({(row.kind, row.priority): row.tickets for row in rows})


async def backlogs(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """Tickets open just before ``start`` and at ``end``."""
    row = (
        await session.execute(
            _BACKLOGS,
            {
                "client_id": client_id,
                "start": start,
                "before_start": start - timedelta(microseconds=1),
                "end": end,
            },
        )
    ).one()
    return row.backlog_start, row.backlog_end


async def oldest_open(session: AsyncSession, *, client_id: str, at: datetime) -> Any | None:
    """The earliest created ticket open at ``at`` (ticket_id, title, priority, created_at)."""
    rows = await session.execute(_OLDEST_OPEN, {"client_id": client_id, "end": at})
    return rows.first()


async def mttr_by_priority(
    session: AsyncSession,
    *,
    client_id: str | None,
    plan_id: str | None,
    start: datetime,
    end: datetime,
    clocks_started: tuple[datetime, datetime],
) -> dict[str, tuple[int, float]]:
    """Per priority: resolutions in ``[start, end)`` and the sum of their wall seconds from
    the ticket's creation; on a plan, only tickets with a clock of that plan started in
    ``clocks_started``."""
    clauses = ["r.resolved_at >= :start", "r.resolved_at < :end"]
    # Fixed fragments chosen here (not ":x IS NULL OR …") so the planner sees the index.
    if client_id is not None:
        clauses.append("r.client_id = :client_id")
    if plan_id is not None:
        clauses.append(
            f"""r.ticket_id IN (SELECT c.ticket_id FROM {SCHEMA}.report_clocks c
                WHERE c.plan_id = :plan_id AND c.started_at >= :clocks_from
                  AND c.started_at < :clocks_to)"""  # noqa: S608 - constant schema
        )
    statement = text(
        f"""
        SELECT t.priority, count(*) AS resolved,
               CAST(sum(extract(epoch FROM r.resolved_at - t.created_at)) AS float8) AS total
        FROM {SCHEMA}.report_resolutions r
        JOIN {SCHEMA}.report_tickets t ON t.ticket_id = r.ticket_id
        WHERE {" AND ".join(clauses)}
        GROUP BY t.priority
        """  # noqa: S608 - the schema is a constant, the clauses fixed fragments
    )
    rows = await session.execute(
        statement,
        {
            "client_id": client_id,
            "plan_id": plan_id,
            "start": start,
            "end": end,
            "clocks_from": clocks_started[0],
            "clocks_to": clocks_started[1],
        },
    )
    return {row.priority: (row.resolved, row.total) for row in rows}
