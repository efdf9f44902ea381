"""The monthly timer: on the 1st in each client's plan time zone, announce last month's report.

Durable and once across replicas: each round selects the clients whose previous month (in
their zone) has no row in ``report_publications`` yet, locking them ``FOR UPDATE SKIP
LOCKED`` so replicas share the work; the publication row (primary key client and period)
and the ``report.published`` outbox row commit together. A round missed while sla was down
is made up at the next one; a client is not sent a report for a month that ended before
sla first heard of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import ReportPublished
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.periodic import PeriodicJob
from aftercare_sla.models import SCHEMA
from aftercare_sla.reports.models import ReportClient, ReportPublication
from aftercare_sla.reports.monthly import monthly_report
from aftercare_sla.reports.periods import month_containing, parse_period
from aftercare_sla.settings import SlaSettings

BATCH_SIZE = 20

# The previous month in each client's zone, and the instant it ended; clients that were
# known before that instant and have no publication row for it.
_DUE_CLIENTS = text(
    f"""
    WITH due AS (
        SELECT c.client_id,
               date_trunc('month', CAST(:now AS timestamptz) AT TIME ZONE c.timezone)
                   AS month_end_local,
               c.timezone
        FROM {SCHEMA}.report_clients c
        WHERE c.plan_id IS NOT NULL
    )
    SELECT c.client_id
    FROM {SCHEMA}.report_clients c
    JOIN due ON due.client_id = c.client_id
    WHERE c.first_seen_at < (due.month_end_local AT TIME ZONE due.timezone)
      AND NOT EXISTS (
        SELECT 1 FROM {SCHEMA}.report_publications p
        WHERE p.client_id = c.client_id
          AND p.period = to_char(due.month_end_local - interval '1 month', 'YYYY-MM')
      )
    ORDER BY c.client_id
    LIMIT :limit
    FOR UPDATE OF c SKIP LOCKED
    """  # noqa: S608 - the schema is a constant
)


def report_url(base_url: str, client_id: str, period: str) -> str:
    return f"{base_url.rstrip('/')}/v1/clients/{client_id}/reports/{period}"


async def publish_due_reports(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    base_url: str,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Announce the previous month's report of up to ``batch_size`` clients; how many."""
    async with session_factory() as session, session.begin():
        client_ids = (await session.scalars(_DUE_CLIENTS, {"now": now, "limit": batch_size})).all()
        published = 0
        for client_id in client_ids:
            client = await session.get(ReportClient, client_id)
            assert client is not None
            period = month_containing(now, client.timezone).previous()
            event_id = await _claim_and_announce(session, client, period.label, now, base_url)
            published += event_id is not None
        return published


async def _claim_and_announce(
    session: AsyncSession, client: ReportClient, period: str, now: datetime, base_url: str
) -> str | None:
    report = await monthly_report(session, client=client, period=parse_period(period), now=now)
    payload = ReportPublished(
        client_id=client.client_id,
        period=period,
        headlines=report["headlines"],
        report_url=report_url(base_url, client.client_id, period),
        published_at=now,
    )
    event = new_event(
        payload, service=ServiceName.SLA, subject=client.client_id, client_id=client.client_id
    )
    claimed = await session.scalar(
        insert(ReportPublication)
        .values(client_id=client.client_id, period=period, published_at=now, event_id=event.id)
        .on_conflict_do_nothing()
        .returning(ReportPublication.event_id)
    )
    if claimed is None:
        return None  # another replica announced it
    await enqueue_event(session, event, schema=SCHEMA)
    return str(claimed)


def report_job(settings: SlaSettings) -> PeriodicJob:
    async def run(session_factory: async_sessionmaker[AsyncSession]) -> int:
        return await publish_due_reports(
            session_factory, now=utc_now(), base_url=settings.public_base_url
        )

    return PeriodicJob(
        name="sla-monthly-reports",
        interval_seconds=settings.report_poll_seconds,
        run=run,
        batch_size=BATCH_SIZE,
    )
