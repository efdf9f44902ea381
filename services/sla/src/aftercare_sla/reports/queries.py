"""What the reports read from the read models: rows of a client in a time window.

Plain rows (Core), not ORM objects: a month of a busy client is tens of thousands of rows,
and building ORM instances for them cost more than the rest of the report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar
from aftercare_sla.reports.figures import ClockFact, Span, stored_pauses
from aftercare_sla.reports.models import (
    ReportAdvisory,
    ReportClient,
    ReportClock,
    ReportDeployment,
    ReportExposure,
    ReportFeedback,
    ReportIncident,
    ReportMonitor,
    ReportPlanCalendar,
    ReportResolution,
    ReportTicket,
    ReportTicketSpan,
)

Record = Any
"""A row of a report table: its columns as attributes (``row.ticket_id``)."""


async def client(session: AsyncSession, client_id: str) -> ReportClient | None:
    return await session.get(ReportClient, client_id)


async def calendars(session: AsyncSession) -> dict[str | None, BusinessCalendar]:
    """Every plan's calendar by plan id (few rows: one per plan)."""
    rows = await session.execute(select(ReportPlanCalendar.plan_id, ReportPlanCalendar.calendar))
    return {plan_id: BusinessCalendar.from_json(calendar) for plan_id, calendar in rows}


async def clocks_started(
    session: AsyncSession,
    *,
    client_id: str | None,
    plan_id: str | None,
    start: datetime,
    end: datetime,
) -> list[ClockFact]:
    statement = select(ReportClock.__table__).where(
        ReportClock.started_at >= start, ReportClock.started_at < end
    )
    if client_id is not None:
        statement = statement.where(ReportClock.client_id == client_id)
    if plan_id is not None:
        statement = statement.where(ReportClock.plan_id == plan_id)
    rows = (await session.execute(statement.order_by(ReportClock.started_at))).all()
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
    ]


async def resolutions(
    session: AsyncSession, *, client_id: str | None, start: datetime, end: datetime
) -> list[tuple[Record, Record]]:
    """Resolutions in the window, with their tickets (MTTR, resolved by kind and priority)."""
    statement = (
        select(ReportResolution.resolved_at, *ReportTicket.__table__.c)
        .join(ReportTicket, ReportTicket.ticket_id == ReportResolution.ticket_id)
        .where(ReportResolution.resolved_at >= start, ReportResolution.resolved_at < end)
    )
    if client_id is not None:
        statement = statement.where(ReportResolution.client_id == client_id)
    rows = await session.execute(statement.order_by(ReportResolution.resolved_at))
    # One row serves as both: it has the resolution's time and the ticket's columns.
    return [(row, row) for row in rows]


async def spans_of(session: AsyncSession, ticket_ids: set[str]) -> list[Span]:
    if not ticket_ids:
        return []
    rows = await session.execute(
        select(ReportTicketSpan.__table__).where(ReportTicketSpan.ticket_id.in_(ticket_ids))
    )
    return [_span(row) for row in rows]


def _span(row: Record) -> Span:
    return Span(
        ticket_id=row.ticket_id,
        opened_at=row.opened_at,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
    )


async def spans_around(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[Span]:
    """The client's open stretches that touch ``[start, end]`` (backlogs at both ends)."""
    rows = await session.execute(
        select(ReportTicketSpan.__table__).where(
            ReportTicketSpan.client_id == client_id,
            ReportTicketSpan.opened_at <= end,
            or_(ReportTicketSpan.ended_at.is_(None), ReportTicketSpan.ended_at >= start),
        )
    )
    return [_span(row) for row in rows]


async def tickets(session: AsyncSession, ticket_ids: set[str]) -> dict[str, Record]:
    if not ticket_ids:
        return {}
    rows = await session.execute(
        select(ReportTicket.__table__).where(ReportTicket.ticket_id.in_(ticket_ids))
    )
    return {row.ticket_id: row for row in rows}


async def tickets_opened(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[Record]:
    rows = await session.execute(
        select(ReportTicket.__table__).where(
            ReportTicket.client_id == client_id,
            ReportTicket.created_at >= start,
            ReportTicket.created_at < end,
        )
    )
    return list(rows)


async def deployments(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[Record]:
    rows = await session.execute(
        select(ReportDeployment.__table__)
        .where(
            ReportDeployment.client_id == client_id,
            ReportDeployment.deployed_at >= start,
            ReportDeployment.deployed_at < end,
        )
        .order_by(ReportDeployment.deployed_at, ReportDeployment.deployment_id)
    )
    return list(rows)


async def exposures(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[tuple[ReportExposure, ReportAdvisory | None]]:
    """Advisories that affected the client at some moment of the window."""
    statement = (
        select(ReportExposure, ReportAdvisory)
        .outerjoin(ReportAdvisory, ReportAdvisory.advisory_id == ReportExposure.advisory_id)
        .where(
            ReportExposure.client_id == client_id,
            ReportExposure.matched_at < end,
            or_(ReportExposure.patched_at.is_(None), ReportExposure.patched_at >= start),
        )
        .order_by(ReportExposure.matched_at, ReportExposure.advisory_id)
    )
    return [(exposure, advisory) for exposure, advisory in await session.execute(statement)]


async def monitors(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[Record]:
    rows = await session.execute(
        select(ReportMonitor.__table__)
        .where(
            ReportMonitor.client_id == client_id,
            ReportMonitor.first_seen_at < end,
            or_(ReportMonitor.deleted_at.is_(None), ReportMonitor.deleted_at > start),
        )
        .order_by(ReportMonitor.name, ReportMonitor.monitor_id)
    )
    return list(rows)


async def incidents(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[Record]:
    rows = await session.execute(
        select(ReportIncident.__table__)
        .where(
            ReportIncident.client_id == client_id,
            ReportIncident.failed_at < end,
            or_(ReportIncident.recovered_at.is_(None), ReportIncident.recovered_at > start),
        )
        .order_by(ReportIncident.failed_at, ReportIncident.monitor_id)
    )
    return list(rows)


async def feedback(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[Record]:
    rows = await session.execute(
        select(ReportFeedback.__table__)
        .where(
            and_(
                ReportFeedback.client_id == client_id,
                ReportFeedback.received_at >= start,
                ReportFeedback.received_at < end,
            )
        )
        .order_by(ReportFeedback.received_at, ReportFeedback.feedback_id)
    )
    return list(rows)
