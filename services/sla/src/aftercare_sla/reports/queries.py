"""What the reports read from the read models that stays small: a client's deployments,
advisories, monitors, incidents and feedback in a time window (as plain Core rows).

The big tables (clocks, tickets, open stretches, resolutions) are added up by Postgres in
``clock_sql``, ``breach_sql`` and ``ticket_sql`` instead: a busy client's month is tens of
thousands of rows there.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar
from aftercare_sla.reports.models import (
    ReportAdvisory,
    ReportClient,
    ReportDeployment,
    ReportExposure,
    ReportFeedback,
    ReportIncident,
    ReportMonitor,
    ReportPlanCalendar,
)

Record = Any
"""A row of a report table: its columns as attributes (``row.ticket_id``)."""


async def client(session: AsyncSession, client_id: str) -> ReportClient | None:
    return await session.get(ReportClient, client_id)


async def calendars(session: AsyncSession) -> dict[str | None, BusinessCalendar]:
    """Every plan's calendar by plan id (few rows: one per plan)."""
    rows = await session.execute(select(ReportPlanCalendar.plan_id, ReportPlanCalendar.calendar))
    return {plan_id: BusinessCalendar.from_json(calendar) for plan_id, calendar in rows}


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


async def feedback_ratings(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> Counter[int]:
    """How many responses gave each rating in ``[start, end)`` (counted by Postgres)."""
    rows = await session.execute(
        select(ReportFeedback.rating, func.count())
        .where(
            ReportFeedback.client_id == client_id,
            ReportFeedback.received_at >= start,
            ReportFeedback.received_at < end,
        )
        .group_by(ReportFeedback.rating)
    )
    return Counter({rating: count for rating, count in rows})


async def feedback_comments(
    session: AsyncSession, *, client_id: str, start: datetime, end: datetime
) -> list[Record]:
    """The responses with a (non-empty) comment, oldest first."""
    rows = await session.execute(
        select(ReportFeedback.__table__)
        .where(
            and_(
                ReportFeedback.client_id == client_id,
                ReportFeedback.received_at >= start,
                ReportFeedback.received_at < end,
                ReportFeedback.comment.is_not(None),
                ReportFeedback.comment != "",
            )
        )
        .order_by(ReportFeedback.received_at, ReportFeedback.feedback_id)
    )
    return list(rows)
