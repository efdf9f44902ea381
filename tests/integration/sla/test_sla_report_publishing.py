"""The monthly timer: report.published once per client and month, on the 1st in the client's
plan time zone, whatever the number of replicas running it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.events import CloudEvent
from aftercare_sla.models import outbox
from aftercare_sla.reports.publishing import publish_due_reports
from tests.integration.sla.report_history import september, utc
from tests.integration.sla.sla_support import apply_events

BASE_URL = "https://sla.agency.example/"


async def published(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with sessions() as session:
        payloads = (await session.scalars(select(outbox.c.payload).order_by(outbox.c.id))).all()
    events = [CloudEvent.from_json_bytes(bytes(payload)) for payload in payloads]
    return [
        {**event.data, "subject": event.subject, "clientid": event.clientid}
        for event in events
        if event.short_type == "report.published"
    ]


async def test_report_published_once_on_the_first_in_the_clients_zone(
    fresh_sessions: async_sessionmaker[AsyncSession],
) -> None:
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    await apply_events(fresh_sessions, *september(client_id, plan_id=f"plan-{client_id}"))

    # 30 Sep 23:59 in Berlin: September is not over there; August's report is still due.
    before = utc(9, 30, 21, 59)
    assert await publish_due_reports(fresh_sessions, now=before, base_url=BASE_URL) == 1
    assert [event["period"] for event in await published(fresh_sessions)] == ["2026-08"]
    assert await publish_due_reports(fresh_sessions, now=before, base_url=BASE_URL) == 0

    # 1 Oct 00:30 in Berlin (30 Sep 22:30 UTC): September's report, by two replicas at once.
    after = utc(9, 30, 22, 30)
    rounds = await asyncio.gather(
        *(publish_due_reports(fresh_sessions, now=after, base_url=BASE_URL) for _ in range(3))
    )
    assert sum(rounds) == 1
    events = await published(fresh_sessions)
    assert [event["period"] for event in events] == ["2026-08", "2026-09"]
    september_event = events[1]
    assert september_event["subject"] == september_event["clientid"] == client_id
    assert september_event["report_url"] == (
        f"https://sla.agency.example/v1/clients/{client_id}/reports/2026-09"
    )
    assert september_event["headlines"] == {
        "tickets_opened": 6,
        "tickets_resolved": 5,
        "backlog_end": 3,
        "sla_met_percent": 80.0,
        "sla_breaches": 2,
        "deployments": 1,
        "uptime_percent": 99.653,
        "satisfaction_average": 4.0,
    }
    # Later rounds of October publish nothing more.
    assert await publish_due_reports(fresh_sessions, now=utc(10, 20, 0), base_url=BASE_URL) == 0
