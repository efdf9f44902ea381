"""The SLA compliance report: per metric x priority, MTTR per priority, and the breaches."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.events.catalog import PRIORITIES
from aftercare_sla.reports import queries
from aftercare_sla.reports.figures import (
    BREACHED,
    MET,
    RUNNING,
    ClockFact,
    Span,
    compliance_rows,
    ordered,
    percent,
    seconds,
)


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
    clocks = await queries.clocks_started(
        session, client_id=client_id, plan_id=plan_id, start=window.start, end=window.end
    )
    states = [clock.state(window.as_of) for clock in clocks]
    met, breached = states.count(MET), states.count(BREACHED)
    totals = {
        "counted": len(clocks),
        "met": met,
        "breached": breached,
        "running": states.count(RUNNING),
        "met_percent": percent(met, met + breached),
    }
    if totals_only:
        return {"totals": totals}
    calendars = await queries.calendars(session)
    rows = compliance_rows(clocks, as_of=window.as_of, calendars=calendars)
    resolutions = await queries.resolutions(
        session, client_id=client_id, start=window.start, end=window.end
    )
    if plan_id is not None:
        on_plan = {clock.ticket_id for clock in clocks}
        resolutions = [pair for pair in resolutions if pair[1].ticket_id in on_plan]
    return {
        "client_id": client_id,
        "plan_id": plan_id,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "timezone": window.timezone,
        "as_of": window.as_of.isoformat(),
        "totals": totals,
        "metrics": rows,
        "mttr": mttr_rows(resolutions),
        "breaches": await breach_rows(session, clocks, as_of=window.as_of),
    }


def mttr_rows(resolutions: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """Mean wall time from a ticket's creation to each of its resolutions in the window."""
    by_priority: dict[str, list[float]] = defaultdict(list)
    for resolution, ticket in resolutions:
        by_priority[ticket.priority].append(seconds(resolution.resolved_at - ticket.created_at))
    priorities = ordered(list(by_priority) + list(PRIORITIES), PRIORITIES)
    return [
        {
            "priority": priority,
            "resolved": len(by_priority[priority]),
            "mttr_seconds": (
                sum(by_priority[priority]) / len(by_priority[priority])
                if by_priority[priority]
                else None
            ),
        }
        for priority in priorities
    ]


async def breach_rows(
    session: AsyncSession, clocks: list[ClockFact], *, as_of: datetime
) -> list[dict[str, Any]]:
    """Each breached clock: when due, and how late it was when its ticket was resolved or
    closed (or, still open, at ``as_of``)."""
    breached = [clock for clock in clocks if clock.state(as_of) == BREACHED]
    spans_by_ticket: dict[str, list[Span]] = defaultdict(list)
    for span in await queries.spans_of(session, {clock.ticket_id for clock in breached}):
        spans_by_ticket[span.ticket_id].append(span)
    rows = []
    for clock in sorted(breached, key=lambda c: (c.due_at, c.ticket_id, c.metric)):
        mine = spans_by_ticket[clock.ticket_id]
        open_now = any(span.open_at(as_of) for span in mine) or not mine
        ended = [
            span.ended_at
            for span in mine
            if span.ended_at is not None and clock.due_at <= span.ended_at < as_of
        ]
        ended_at = None if open_now or not ended else min(ended)
        ended_by = next(
            (span.ended_by for span in mine if ended_at is not None and span.ended_at == ended_at),
            None,
        )
        rows.append(
            {
                "ticket_id": clock.ticket_id,
                "metric": clock.metric,
                "priority": clock.priority,
                "started_at": clock.started_at.isoformat(),
                "due_at": clock.due_at.isoformat(),
                "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
                "status": "open" if ended_at is None else ended_by,
                "ended_at": ended_at.isoformat() if ended_at else None,
                "late_seconds": seconds((ended_at or as_of) - clock.due_at),
            }
        )
    return rows
