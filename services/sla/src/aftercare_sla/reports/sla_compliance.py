"""The SLA compliance report: per metric x priority, MTTR per priority, and the breaches.

Postgres adds the clocks up (``clock_sql``, ``breach_sql``, ``ticket_sql``); this module
lays the figures out, one row for every metric x priority of the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.events.catalog import PRIORITIES, SLA_METRICS
from aftercare_sla.reports import queries
from aftercare_sla.reports.breach_sql import breach_rows
from aftercare_sla.reports.clock_sql import ClockFilter, ClockGroup, clock_groups, met_clocks_of
from aftercare_sla.reports.figures import (
    ClockFact,
    business_seconds_to_meet,
    median,
    ordered,
    p90,
    percent,
)
from aftercare_sla.reports.ticket_sql import mttr_by_priority


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in the client's time zone; figures are as known at ``as_of``."""

    start: datetime
    end: datetime
    timezone: str
    as_of: datetime


async def sla_compliance(
    session: AsyncSession,
    *,
    client_id: str | None,
    plan_id: str | None,
    window: Window,
    totals_only: bool = False,
) -> dict[str, Any]:
    """The report; with ``totals_only`` just its totals (a trend's previous period)."""
    clocks = ClockFilter(
        client_id=client_id,
        plan_id=plan_id,
        start=window.start,
        end=window.end,
        as_of=window.as_of,
    )
    groups = await clock_groups(session, clocks)
    met = sum(group.met for group in groups)
    breached = sum(group.breached for group in groups)
    totals = {
        "counted": sum(group.counted for group in groups),
        "met": met,
        "breached": breached,
        "running": sum(group.running for group in groups),
        "met_percent": percent(met, met + breached),
    }
    if totals_only:
        return {"totals": totals}
    mttr = await mttr_by_priority(
        session,
        client_id=client_id,
        plan_id=plan_id,
        start=window.start,
        end=window.end,
        clocks_started=(window.start, window.end),
    )
    return {
        "client_id": client_id,
        "plan_id": plan_id,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "timezone": window.timezone,
        "as_of": window.as_of.isoformat(),
        "totals": totals,
        "metrics": await compliance_rows(session, clocks, groups),
        "mttr": mttr_rows(mttr),
        "breaches": await breach_rows(session, clocks),
    }


async def compliance_rows(
    session: AsyncSession, clocks: ClockFilter, groups: list[ClockGroup]
) -> list[dict[str, object]]:
    """Per metric x priority: counted, met, breached, running, met %, times to meet, paused."""
    by_key = {(group.metric, group.priority): group for group in groups}
    metrics = ordered([metric for metric, _ in by_key] + list(SLA_METRICS), SLA_METRICS)
    priorities = ordered([priority for _, priority in by_key] + list(PRIORITIES), PRIORITIES)
    worked_out = await _business_times_worked_out(session, clocks, groups)
    rows: list[dict[str, object]] = []
    for metric in metrics:
        for priority in priorities:
            group = by_key.get((metric, priority))
            if group is None:
                rows.append(_empty_row(metric, priority))
                continue
            business = worked_out.get((metric, priority))
            rows.append(
                {
                    "metric": metric,
                    "priority": priority,
                    "counted": group.counted,
                    "met": group.met,
                    "breached": group.breached,
                    "running": group.running,
                    "met_percent": percent(group.met, group.met + group.breached),
                    "business_seconds_to_meet_median": (
                        _mean_of_middles(group.business_middle)
                        if business is None
                        else median(business)
                    ),
                    "business_seconds_to_meet_p90": (
                        group.business_p90 if business is None else p90(business)
                    ),
                    "wall_seconds_to_meet_median": _mean_of_middles(group.wall_middle),
                    "wall_seconds_to_meet_p90": group.wall_p90,
                    "paused_seconds": group.paused_seconds,
                }
            )
    return rows


def _mean_of_middles(middles: tuple[float | None, float | None]) -> float | None:
    """The median from the two middle values (the same one for an odd count), as
    ``statistics.median`` works it out: ``(low + high) / 2``."""
    low, high = middles
    return None if low is None or high is None else (low + high) / 2


def _empty_row(metric: str, priority: str) -> dict[str, object]:
    return {
        "metric": metric,
        "priority": priority,
        "counted": 0,
        "met": 0,
        "breached": 0,
        "running": 0,
        "met_percent": None,
        "business_seconds_to_meet_median": None,
        "business_seconds_to_meet_p90": None,
        "wall_seconds_to_meet_median": None,
        "wall_seconds_to_meet_p90": None,
        "paused_seconds": 0.0,
    }


async def _business_times_worked_out(
    session: AsyncSession, clocks: ClockFilter, groups: list[ClockGroup]
) -> dict[tuple[str, str], list[float]]:
    """Business times to meet of the groups where the read model lacks some (``sla.met``
    arrived before the plan's calendar): every met clock of those groups, worked out here."""
    lacking = {(group.metric, group.priority) for group in groups if group.business_missing}
    if not lacking:
        return {}
    calendars = await queries.calendars(session)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in lacking}
    for clock in await met_clocks_of(session, clocks, lacking):
        times[(clock.metric, clock.priority)].append(_business_time(clock, calendars, clocks))
    return times


def _business_time(
    clock: ClockFact, calendars: dict[str | None, BusinessCalendar], clocks: ClockFilter
) -> float:
    if clock.business_seconds is not None:
        return clock.business_seconds
    return business_seconds_to_meet(
        calendars.get(clock.plan_id) or BusinessCalendar.always_open(),
        clock.started_at,
        clock.met_at or clock.started_at,
        clock.pauses_until(clocks.as_of),
    )


def mttr_rows(resolved: dict[str, tuple[int, float]]) -> list[dict[str, Any]]:
    """Mean wall time from a ticket's creation to each of its resolutions in the window."""
    priorities = ordered(list(resolved) + list(PRIORITIES), PRIORITIES)
    rows = []
    for priority in priorities:
        count, total = resolved.get(priority, (0, 0.0))
        rows.append(
            {
                "priority": priority,
                "resolved": count,
                "mttr_seconds": total / count if count else None,
            }
        )
    return rows
