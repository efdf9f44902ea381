"""Report generation: the monthly maintenance report of a client with 10,000 tickets in a month.

A fresh sla database gets the report read models of one client, bulk-inserted as the event
handlers would have left them: 10,000 tickets in September 2026 (2,000 in August, the
previous period the trend compares with), two SLA clocks each (met, breached, running,
with pauses), resolutions, open stretches, feedback, deployments and monitor incidents.
Reported: the time to compute the report (sla's own code, one session) and to render it as
JSON, CSV and HTML, and the SLA compliance report, against the 1 s goal for JSON.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.db import create_session_factory
from aftercare_shared.events.catalog import PRIORITIES, TICKET_KINDS
from aftercare_sla.reports import queries
from aftercare_sla.reports.csv_output import monthly_tables, tables_csv
from aftercare_sla.reports.figures import business_seconds_to_meet
from aftercare_sla.reports.html_output import render_monthly_html
from aftercare_sla.reports.models import (
    ReportClient,
    ReportClock,
    ReportDeployment,
    ReportFeedback,
    ReportIncident,
    ReportMonitor,
    ReportPlanCalendar,
    ReportResolution,
    ReportTicket,
    ReportTicketSpan,
)
from aftercare_sla.reports.monthly import monthly_report, window_of
from aftercare_sla.reports.periods import parse_period
from aftercare_sla.reports.sla_compliance import sla_compliance
from bench.report import TableRow, number
from devkit.databases import create_migrated_database, drop_database

TICKETS = 10_000
PREVIOUS_TICKETS = 2_000
CLIENT = "bench-client"
PLAN = "bench-plan"
GOAL_SECONDS = 1.0
CALENDAR = {
    "timezone": "Europe/Berlin",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
}

_CALENDAR = BusinessCalendar.from_json(CALENDAR)


@dataclass(frozen=True, slots=True)
class ReportResult:
    tickets: int
    seed_seconds: float
    json_seconds: float
    json_cpu_seconds: float
    csv_seconds: float
    html_seconds: float
    sla_seconds: float
    json_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "seed_seconds": round(self.seed_seconds, 2),
            "json_ms": round(self.json_seconds * 1000, 1),
            "json_cpu_ms": round(self.json_cpu_seconds * 1000, 1),
            "csv_ms": round(self.csv_seconds * 1000, 1),
            "html_ms": round(self.html_seconds * 1000, 1),
            "sla_report_ms": round(self.sla_seconds * 1000, 1),
            "json_bytes": self.json_bytes,
        }


def _rows(month: int, count: int, rng: random.Random) -> dict[type, list[dict[str, Any]]]:
    start = datetime(2026, month, 1, tzinfo=UTC)
    rows: dict[type, list[dict[str, Any]]] = {model: [] for model in _MODELS}
    for index in range(count):
        ticket_id = f"t-{month}-{index}"
        created = start + timedelta(seconds=rng.randrange(0, 29 * 86400))
        priority = PRIORITIES[index % len(PRIORITIES)]
        rows[ReportTicket].append(
            {
                "ticket_id": ticket_id,
                "client_id": CLIENT,
                "title": f"Bench ticket {index}",
                "kind": TICKET_KINDS[index % len(TICKET_KINDS)],
                "priority": priority,
                "created_at": created,
            }
        )
        resolved = created + timedelta(hours=rng.randrange(1, 72)) if index % 5 else None
        rows[ReportTicketSpan].append(
            {
                "ticket_id": ticket_id,
                "client_id": CLIENT,
                "opened_at": created,
                "ended_at": resolved,
                "ended_by": "resolved" if resolved else None,
            }
        )
        if resolved:
            rows[ReportResolution].append(
                {"ticket_id": ticket_id, "client_id": CLIENT, "resolved_at": resolved}
            )
        for metric, hours in (("first_response", 1), ("resolution", 24)):
            due = created + timedelta(hours=hours)
            met = resolved if metric == "resolution" else created + timedelta(minutes=20)
            breached = index % 7 == 0
            pause = created + timedelta(hours=2)
            pauses = (
                [(pause, pause + timedelta(hours=3))]
                if index % 3 == 0 and metric == "resolution"
                else []
            )
            met_at = None if breached or met is None else met
            rows[ReportClock].append(
                {
                    "ticket_id": ticket_id,
                    "metric": metric,
                    "started_at": created,
                    "client_id": CLIENT,
                    "plan_id": PLAN,
                    "priority": priority,
                    "due_at": due,
                    "met_at": met_at,
                    "breached_at": due if breached else None,
                    "paused_at": None,
                    "pauses": [[start.isoformat(), end.isoformat()] for start, end in pauses],
                    # As the sla.met handler leaves it.
                    "business_seconds": None
                    if met_at is None
                    else business_seconds_to_meet(_CALENDAR, created, met_at, pauses),
                }
            )
        if resolved and index % 4 == 0:
            rows[ReportFeedback].append(
                {
                    "feedback_id": f"f-{ticket_id}",
                    "client_id": CLIENT,
                    "ticket_id": ticket_id,
                    "rating": 1 + index % 5,
                    "comment": "Thanks <b>team</b>" if index % 8 == 0 else None,
                    "received_at": resolved + timedelta(hours=1),
                }
            )
    for index in range(20):
        rows[ReportDeployment].append(
            {
                "deployment_id": f"d-{month}-{index}",
                "client_id": CLIENT,
                "environment": ("production", "staging")[index % 2],
                "product": "shop",
                "version": f"1.{month}.{index}",
                "previous_version": None,
                "release_id": None,
                "fixed_tickets": index,
                "deployed_at": start + timedelta(days=index),
            }
        )
        rows[ReportIncident].append(
            {
                "monitor_id": f"m-{index % 5}",
                "failed_at": start + timedelta(days=index, hours=month),
                "client_id": CLIENT,
                "reason": "missed",
                "ticket_id": None,
                "recovered_at": start + timedelta(days=index, hours=month + 1),
            }
        )
    return rows


_MODELS = (
    ReportTicket,
    ReportTicketSpan,
    ReportResolution,
    ReportClock,
    ReportFeedback,
    ReportDeployment,
    ReportIncident,
)


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    rng = random.Random(11)
    first = datetime(2026, 7, 1, tzinfo=UTC)
    async with sessions() as session, session.begin():
        session.add(
            ReportClient(
                client_id=CLIENT,
                name="Bench client",
                plan_id=PLAN,
                timezone="Europe/Berlin",
                assigned_at=first,
                first_seen_at=first,
            )
        )
        session.add(ReportPlanCalendar(plan_id=PLAN, calendar=CALENDAR, assigned_at=first))
        for index in range(5):
            session.add(
                ReportMonitor(
                    monitor_id=f"m-{index}",
                    client_id=CLIENT,
                    name=f"Monitor {index}",
                    kind="uptime",
                    first_seen_at=first,
                )
            )
        for month, count in ((8, PREVIOUS_TICKETS), (9, TICKETS)):
            for model, rows in _rows(month, count, rng).items():
                for offset in range(0, len(rows), 5_000):
                    await session.execute(insert(model), rows[offset : offset + 5_000])


async def measure_report_generation() -> ReportResult:
    url = await create_migrated_database("sla", prefix="benchreport")
    engine = create_async_engine(url)
    try:
        sessions = create_session_factory(engine)
        seeding = time.perf_counter()
        await _seed(sessions)
        seed_seconds = time.perf_counter() - seeding
        period = parse_period("2026-09")
        now = datetime(2026, 11, 1, tzinfo=UTC)

        async def report() -> dict[str, Any]:
            async with sessions() as session:
                client = await queries.client(session, CLIENT)
                assert client is not None
                return await monthly_report(session, client=client, period=period, now=now)

        await report()  # warm: imports, the calendar's year tables, connections
        started, cpu = time.perf_counter(), time.process_time()
        document = json.dumps(await report())
        json_seconds = time.perf_counter() - started
        json_cpu_seconds = time.process_time() - cpu
        started = time.perf_counter()
        tables_csv(monthly_tables(await report()))
        csv_seconds = time.perf_counter() - started
        started = time.perf_counter()
        render_monthly_html(await report())
        html_seconds = time.perf_counter() - started
        started = time.perf_counter()
        async with sessions() as session:
            window = window_of(period, "Europe/Berlin", now)
            json.dumps(await sla_compliance(session, client_id=CLIENT, plan_id=None, window=window))
        sla_seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
        await drop_database(url)
    return ReportResult(
        tickets=TICKETS,
        seed_seconds=seed_seconds,
        json_seconds=json_seconds,
        json_cpu_seconds=json_cpu_seconds,
        csv_seconds=csv_seconds,
        html_seconds=html_seconds,
        sla_seconds=sla_seconds,
        json_bytes=len(document),
    )


def report_rows(result: ReportResult) -> list[TableRow]:
    name = "11 report generation"
    shape = f"{result.tickets:,} tickets, {2 * result.tickets:,} clocks in the month"
    return [
        TableRow(
            name,
            f"monthly report JSON ms ({shape}, with the previous month's trend)",
            number(result.json_seconds * 1000),
            "goal",
            number(GOAL_SECONDS * 1000),
            f"{result.json_seconds / GOAL_SECONDS:.2f}x",
        ),
        TableRow(
            name,
            "monthly report JSON: sla process CPU ms (Postgres's own time not included)",
            number(result.json_cpu_seconds * 1000),
            "goal",
            number(GOAL_SECONDS * 1000),
            f"{result.json_cpu_seconds / GOAL_SECONDS:.2f}x",
        ),
        TableRow(name, "monthly report CSV ms", number(result.csv_seconds * 1000)),
        TableRow(name, "monthly report HTML ms", number(result.html_seconds * 1000)),
        TableRow(name, "SLA compliance report JSON ms", number(result.sla_seconds * 1000)),
    ]
