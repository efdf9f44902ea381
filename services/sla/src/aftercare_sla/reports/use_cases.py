"""Who may read which report, and over which window: the reports' use cases."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.auth.authenticator import Principal
from aftercare_shared.clock import utc_now
from aftercare_sla.errors import InvalidReportWindowError, ReportClientNotFoundError
from aftercare_sla.reports import queries
from aftercare_sla.reports.models import ReportClient
from aftercare_sla.reports.monthly import monthly_report
from aftercare_sla.reports.periods import parse_period
from aftercare_sla.reports.sla_compliance import Window, sla_compliance

MAX_WINDOW = timedelta(days=366)


async def visible_client(
    session: AsyncSession, *, viewer: Principal, client_id: str
) -> ReportClient:
    """The client's report row; another client's is "not found": existence must not leak."""
    client = await queries.client(session, client_id) if viewer.may_see_client(client_id) else None
    if client is None:
        raise ReportClientNotFoundError(client_id)
    return client


async def sla_report(
    session: AsyncSession,
    *,
    viewer: Principal,
    client_id: str | None,
    plan_id: str | None,
    first_day: date,
    day_after: date,
) -> dict[str, Any]:
    """``[first_day, day_after)`` in the client's plan time zone (UTC across clients)."""
    if not viewer.is_staff:
        client_id = client_id or viewer.client_id
    if first_day >= day_after:
        raise InvalidReportWindowError("'from' must be before 'to'.")
    if day_after - first_day > MAX_WINDOW:
        raise InvalidReportWindowError("A report covers at most 366 days.")
    timezone = "UTC"
    if client_id is not None:
        timezone = (await visible_client(session, viewer=viewer, client_id=client_id)).timezone
    zone = ZoneInfo(timezone)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone)
    end = datetime(day_after.year, day_after.month, day_after.day, tzinfo=zone)
    window = Window(start=start, end=end, timezone=timezone, as_of=min(end, utc_now()))
    return await sla_compliance(session, client_id=client_id, plan_id=plan_id, window=window)


async def client_report(
    session: AsyncSession, *, viewer: Principal, client_id: str, period: str
) -> dict[str, Any]:
    parsed = parse_period(period)
    client = await visible_client(session, viewer=viewer, client_id=client_id)
    return await monthly_report(session, client=client, period=parsed, now=utc_now())
