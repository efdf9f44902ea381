"""The SLA compliance figures, added up by Postgres: one row per metric x priority.

A busy client's month is tens of thousands of clocks; reading them into Python cost more
than the rest of the report, so Postgres counts them and sorts them for the percentiles.
The rules are the README's "Reports: counting rules", as ``figures`` states them in Python.
Staying identical to those rules to the last bit decides the SQL below:

- the median is the mean of ``percentile_disc(0.5)`` over the values ascending and
  descending (the two middle values; the same one for an odd count), as
  ``statistics.median`` takes it. ``percentile_cont(0.5)`` interpolates ``a + (b - a) / 2``,
  which can differ from ``(a + b) / 2`` in the last bit;
- p90 is nearest rank, which is exactly ``percentile_disc(0.9)`` (rank ``ceil(0.9 n)``,
  worked out in double precision like ``math.ceil(0.9 * n)``);
- seconds come from ``extract(epoch …)`` (exact numeric in Postgres 14+) cast to double,
  the correctly rounded value ``timedelta.total_seconds()`` gives;
- sums (paused seconds, MTTR's total) add exact numerics and round once at the end. A
  running sum of doubles drifts in the last digits with microsecond pauses (the order of
  the clocks deciding how), so for those the exact sum is the one that keeps still.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_sla.models import SCHEMA
from aftercare_sla.reports.figures import ClockFact, stored_pauses


@dataclass(frozen=True, slots=True)
class ClockFilter:
    """Which clocks a report counts: started in ``[start, end)``, judged as of ``as_of``."""

    client_id: str | None
    plan_id: str | None
    start: datetime
    end: datetime
    as_of: datetime

    def where(self) -> str:
        """The WHERE clause over ``report_clocks c``; only fixed fragments, values bound."""
        clauses = [
            "c.started_at >= :start",
            "c.started_at < :end",
            # A clock cancelled by un-assigning the plan has no verdict: it counts only if it
            # was met or breached before the cancellation (a breach announced stays).
            "(c.cancelled_at IS NULL OR c.cancelled_at >= CAST(:as_of AS timestamptz)"
            " OR c.met_at <= c.cancelled_at OR c.breached_at <= c.cancelled_at)",
        ]
        # Built here rather than ":x IS NULL OR …" so the planner always sees the index.
        if self.client_id is not None:
            clauses.append("c.client_id = :client_id")
        if self.plan_id is not None:
            clauses.append("c.plan_id = :plan_id")
        return " AND ".join(clauses)

    def parameters(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "as_of": self.as_of,
            "client_id": self.client_id,
            "plan_id": self.plan_id,
        }


def judged_clocks(clocks: ClockFilter) -> str:
    """Each counted clock with its state as of ``as_of`` and its paused seconds until then."""
    return f"""
    SELECT c.ticket_id, c.metric, c.priority, c.plan_id, c.started_at, c.due_at, c.met_at,
           c.breached_at, c.business_seconds,
           CASE WHEN c.met_at < CAST(:as_of AS timestamptz) THEN 'met'
                WHEN c.breached_at < CAST(:as_of AS timestamptz) THEN 'breached'
                ELSE 'running' END AS state,
           COALESCE((
               SELECT sum(extract(epoch FROM least(CAST(p ->> 1 AS timestamptz),
                                                   CAST(:as_of AS timestamptz))
                                             - CAST(p ->> 0 AS timestamptz)))
               FROM jsonb_array_elements(
                   CASE WHEN jsonb_typeof(c.pauses) = 'array' THEN c.pauses
                        ELSE '[]'::jsonb END) AS p
               WHERE CAST(p ->> 0 AS timestamptz) < CAST(:as_of AS timestamptz)
           ), 0)
           + CASE WHEN c.paused_at < CAST(:as_of AS timestamptz)
                  THEN extract(epoch FROM CAST(:as_of AS timestamptz) - c.paused_at)
                  ELSE 0 END AS paused_seconds
    FROM {SCHEMA}.report_clocks c
    WHERE {clocks.where()}
    """  # noqa: S608 - the schema is a constant, the clauses fixed fragments


@dataclass(frozen=True, slots=True)
class ClockGroup:
    """One metric x priority, as counted by Postgres; times to meet of the met clocks."""

    metric: str
    priority: str
    counted: int
    met: int
    breached: int
    running: int
    paused_seconds: float
    business_missing: int
    """Met clocks whose business time the read model could not work out yet (no calendar)."""
    business_middle: tuple[float | None, float | None]
    business_p90: float | None
    wall_middle: tuple[float | None, float | None]
    wall_p90: float | None


async def clock_groups(session: AsyncSession, clocks: ClockFilter) -> list[ClockGroup]:
    statement = text(
        f"""
        WITH judged AS ({judged_clocks(clocks)}),
        timed AS (
            SELECT metric, priority, state, paused_seconds, business_seconds,
                   CASE WHEN state = 'met' THEN business_seconds END AS business,
                   CASE WHEN state = 'met'
                        THEN CAST(extract(epoch FROM met_at - started_at) AS float8)
                   END AS wall
            FROM judged
        )
        SELECT metric, priority,
               count(*) AS counted,
               count(*) FILTER (WHERE state = 'met') AS met,
               count(*) FILTER (WHERE state = 'breached') AS breached,
               count(*) FILTER (WHERE state = 'running') AS running,
               CAST(sum(paused_seconds) AS float8) AS paused_seconds,
               count(*) FILTER (WHERE state = 'met' AND business_seconds IS NULL)
                   AS business_missing,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY business) AS business_low,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY business DESC) AS business_high,
               percentile_disc(0.9) WITHIN GROUP (ORDER BY business) AS business_p90,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY wall) AS wall_low,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY wall DESC) AS wall_high,
               percentile_disc(0.9) WITHIN GROUP (ORDER BY wall) AS wall_p90
        FROM timed
        GROUP BY metric, priority
        """  # noqa: S608 - the schema is a constant, the clauses fixed fragments
    )
    rows = await session.execute(statement, clocks.parameters())
    return [
        ClockGroup(
            metric=row.metric,
            priority=row.priority,
            counted=row.counted,
            met=row.met,
            breached=row.breached,
            running=row.running,
            paused_seconds=row.paused_seconds,
            business_missing=row.business_missing,
            business_middle=(row.business_low, row.business_high),
            business_p90=row.business_p90,
            wall_middle=(row.wall_low, row.wall_high),
            wall_p90=row.wall_p90,
        )
        for row in rows
    ]


async def met_clocks_of(
    session: AsyncSession, clocks: ClockFilter, groups: set[tuple[str, str]]
) -> list[ClockFact]:
    """Every met clock of ``groups`` (metric, priority), for Python to work out the business
    times the read model lacks (rare: ``sla.met`` before the plan's calendar arrived)."""
    if not groups:
        return []
    statement = text(
        f"""
        SELECT c.*
        FROM {SCHEMA}.report_clocks c
        WHERE {clocks.where()} AND c.met_at < CAST(:as_of AS timestamptz)
        """  # noqa: S608 - the schema is a constant, the clauses fixed fragments
    )
    rows = await session.execute(statement, clocks.parameters())
    return [
        ClockFact(
            ticket_id=row.ticket_id,
            metric=row.metric,
            priority=row.priority,
            plan_id=row.plan_id,
            started_at=row.started_at,
            due_at=row.due_at,
            met_at=row.met_at,
            breached_at=row.breached_at,
            paused_at=row.paused_at,
            pauses=stored_pauses(row.pauses) if row.pauses else (),
            business_seconds=row.business_seconds,
        )
        for row in rows
        if (row.metric, row.priority) in groups
    ]
