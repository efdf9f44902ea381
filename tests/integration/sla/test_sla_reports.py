"""Reports from a month of events with explicit times: every figure against hand-worked values,
in JSON and CSV; tenant isolation; bad periods and windows."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.events.catalog import (
    ReleaseDeployed,
    SlaBreached,
    SlaCancelled,
    SlaClientPlanUnassigned,
    SlaClockStarted,
    SlaDueChanged,
    SlaMet,
    SlaPaused,
)
from aftercare_sla.reports.models import ReportClient, ReportClock
from devkit.databases import kafka_bootstrap_servers
from tests.integration.sla.report_history import (
    SEPTEMBER_MTTR,
    SEPTEMBER_SLA,
    SEPTEMBER_TRENDS,
    SLA_COLUMNS,
    History,
    berlin,
    by_key,
    september,
    utc,
)
from tests.integration.sla.sla_support import STAFF, apply_events, as_event, seed_client_key


async def seeded_client(sessions: async_sessionmaker[AsyncSession]) -> str:
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    await apply_events(sessions, *september(client_id, plan_id=f"plan-{client_id}"))
    return client_id


def csv_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """The CSV's tables by name (first column), each row keyed by its table's header."""
    tables: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        if row[0] == "table":
            header = row
            continue
        tables.setdefault(row[0], []).append(dict(zip(header, row, strict=True)))
    return tables


def as_csv_value(value: Any) -> str:
    return "" if value is None else str(value)


def check_sla_figures(report: dict[str, Any]) -> None:
    rows = by_key(report["metrics"], "metric", "priority")
    for key, expected in SEPTEMBER_SLA.items():
        assert tuple(rows[key][column] for column in SLA_COLUMNS) == expected, key
    assert report["totals"] == {
        "counted": 12,
        "met": 8,
        "breached": 2,
        "running": 2,
        "met_percent": 80.0,
    }
    mttr = by_key(report["mttr"], "priority")
    for priority, (resolved, seconds) in SEPTEMBER_MTTR.items():
        assert (mttr[(priority,)]["resolved"], mttr[(priority,)]["mttr_seconds"]) == (
            resolved,
            seconds,
        )
    breaches = [
        (b["ticket_id"].split("-")[-1], b["metric"], b["status"], b["late_seconds"])
        for b in report["breaches"]
    ]
    assert breaches == [
        ("T2", "first_response", "resolved", 18 * 3600.0),
        ("T5", "first_response", "open", 7 * 3600.0),
    ]


async def test_sla_report_json_and_csv(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    client_id = await seeded_client(app_sessions)
    params = {"client_id": client_id, "from": "2026-09-01", "to": "2026-10-01"}

    answer = await api.get("/v1/reports/sla", params=params, headers=STAFF)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["timezone"] == "Europe/Berlin"
    assert report["from"] == "2026-09-01T00:00:00+02:00"
    check_sla_figures(report)

    by_plan = await api.get(
        "/v1/reports/sla", params={**params, "plan_id": f"plan-{client_id}"}, headers=STAFF
    )
    assert by_plan.json()["totals"] == report["totals"]
    other_plan = await api.get(
        "/v1/reports/sla", params={**params, "plan_id": "no-such-plan"}, headers=STAFF
    )
    assert other_plan.json()["totals"]["counted"] == 0

    as_csv = await api.get(
        "/v1/reports/sla", params=params, headers={**STAFF, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    tables = csv_tables(as_csv.text)
    csv_rows = by_key(tables["metrics"], "metric", "priority")
    for key, expected in SEPTEMBER_SLA.items():
        got = tuple(csv_rows[key][column] for column in SLA_COLUMNS)
        assert got == tuple(as_csv_value(value) for value in expected), key
    assert tables["totals"][0]["met_percent"] == "80.0"
    assert [row["late_seconds"] for row in tables["breaches"]] == ["64800.0", "25200.0"]
    assert {row["priority"]: row["mttr_seconds"] for row in tables["mttr"]}["P4"] == "282600.0"
    same = await api.get("/v1/reports/sla", params={**params, "format": "csv"}, headers=STAFF)
    assert same.text == as_csv.text


async def test_monthly_report_json_and_csv(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    client_id = await seeded_client(app_sessions)
    answer = await api.get(f"/v1/clients/{client_id}/reports/2026-09", headers=STAFF)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["period"], report["previous_period"]) == ("2026-09", "2026-08")
    assert report["client_name"] == "Acme <GmbH>"

    tickets = report["tickets"]
    assert (tickets["opened_total"], tickets["resolved_total"]) == (6, 5)
    assert (tickets["backlog_start"], tickets["backlog_end"]) == (1, 3)
    assert tickets["oldest_open"]["ticket_id"] == f"{client_id}-T0"
    opened = by_key(tickets["opened"], "kind")
    assert {k[0]: (r["P1"], r["P2"], r["P3"], r["P4"], r["total"]) for k, r in opened.items()} == {
        "bug": (2, 0, 1, 1, 4),
        "incident": (0, 1, 0, 0, 1),
        "question": (0, 0, 0, 1, 1),
    }
    resolved = by_key(tickets["resolved"], "kind")
    assert {k[0]: r["total"] for k, r in resolved.items()} == {
        "bug": 2,
        "incident": 1,
        "question": 2,
    }
    check_sla_figures(report["sla"])

    releases = report["releases"]
    assert [(d["environment"], d["version"]) for d in releases["deployments"]] == [
        ("production", "1.2.0")
    ]
    (advisory,) = releases["advisories"]
    assert (advisory["days_to_patch"], advisory["patch_deployment_id"]) == (3.0, f"{client_id}-D1")

    monitoring = report["monitoring"]
    monitors = {m["name"]: m for m in monitoring["monitors"]}
    assert monitors["Checkout <heartbeat>"]["down_seconds"] == 5 * 3600.0
    assert monitors["Checkout <heartbeat>"]["uptime_percent"] == 99.306
    assert monitors["API"]["uptime_percent"] == 100.0
    assert [i["down_seconds"] for i in monitoring["incidents"]] == [3 * 3600.0, 2 * 3600.0]
    assert monitoring["incidents"][1]["recovered_at"] is None  # recovered after the month

    satisfaction = report["satisfaction"]
    assert (satisfaction["responses"], satisfaction["average"]) == (3, 4.0)
    assert satisfaction["ratings"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert len(satisfaction["comments"]) == 2

    trend = {
        row["figure"]: (row["current"], row["previous"], row["change"]) for row in report["trend"]
    }
    assert trend == SEPTEMBER_TRENDS

    as_csv = await api.get(
        f"/v1/clients/{client_id}/reports/2026-09", headers={**STAFF, "Accept": "text/csv"}
    )
    tables = csv_tables(as_csv.text)
    csv_trend = {
        row["figure"]: (row["current"], row["previous"], row["change"]) for row in tables["trend"]
    }
    assert csv_trend == {
        figure: tuple(as_csv_value(value) for value in values)
        for figure, values in SEPTEMBER_TRENDS.items()
    }
    assert tables["backlog"][0]["backlog_start"] == "1"
    assert tables["backlog"][0]["backlog_end"] == "3"
    assert {row["name"]: row["uptime_percent"] for row in tables["monitors"]} == {
        "Checkout <heartbeat>": "99.306",
        "API": "100.0",
    }
    assert tables["satisfaction"][0]["average"] == "4.0"
    assert tables["deployments"][0]["version"] == "1.2.0"
    assert tables["advisories"][0]["days_to_patch"] == "3.0"
    sla_rows = by_key(tables["sla_metrics"], "metric", "priority")
    assert sla_rows[("resolution", "P3")]["paused_seconds"] == "172800.0"

    quarter = await api.get(f"/v1/clients/{client_id}/reports/2026-Q3", headers=STAFF)
    assert quarter.status_code == 200
    assert quarter.json()["previous_period"] == "2026-Q2"
    assert quarter.json()["tickets"]["opened_total"] == 7  # T0 in August too


async def test_reports_are_tenant_isolated(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    client_id = await seeded_client(app_sessions)
    other_id = await seeded_client(app_sessions)
    own_key = await seed_client_key(app_sessions, client_id)
    window = {"from": "2026-09-01", "to": "2026-10-01"}

    own = await api.get(f"/v1/clients/{client_id}/reports/2026-09", headers=own_key)
    assert own.status_code == 200
    foreign = await api.get(f"/v1/clients/{other_id}/reports/2026-09", headers=own_key)
    assert foreign.status_code == 404
    assert foreign.headers["content-type"].startswith("application/problem+json")
    implicit = await api.get("/v1/reports/sla", params=window, headers=own_key)
    assert implicit.json()["client_id"] == client_id
    assert implicit.json()["totals"]["counted"] == 12
    foreign_sla = await api.get(
        "/v1/reports/sla", params={**window, "client_id": other_id}, headers=own_key
    )
    assert foreign_sla.status_code == 404


async def test_bad_periods_and_windows_are_422(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    client_id = await seeded_client(app_sessions)
    for period in ("2026-13", "2026-Q5", "september", "2026-9"):
        answer = await api.get(f"/v1/clients/{client_id}/reports/{period}", headers=STAFF)
        assert answer.status_code == 422, period
        assert answer.json()["errors"][0]["location"] == "path.period"
    backwards = await api.get(
        "/v1/reports/sla",
        params={"client_id": client_id, "from": "2026-10-01", "to": "2026-09-01"},
        headers=STAFF,
    )
    assert backwards.status_code == 422
    unknown = await api.get("/v1/clients/nobody/reports/2026-09", headers=STAFF)
    assert unknown.status_code == 404


async def test_the_live_consumer_keeps_the_reports_from_kafka(
    api: httpx.AsyncClient,
    app_sessions: async_sessionmaker[AsyncSession],
    sla_topics: dict[str, str],
) -> None:
    """A deployment and a monitor incident published on Kafka reach the report."""
    client_id = await seeded_client(app_sessions)
    deployed = ReleaseDeployed(
        deployment_id=f"{client_id}-D2",
        client_id=client_id,
        environment="production",
        product="shop",
        version="1.2.1",
        deployed_at=utc(9, 20, 10),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers(), acks="all")
    await producer.start()
    try:
        event = as_event(deployed, service="releases")
        await producer.send_and_wait(
            sla_topics["releases"], event.to_json_bytes(), key=client_id.encode()
        )
    finally:
        await producer.stop()

    async def deployments() -> int:
        answer = await api.get(f"/v1/clients/{client_id}/reports/2026-09", headers=STAFF)
        return len(answer.json()["releases"]["deployments"])

    for _ in range(100):
        if await deployments() == 2:
            break
        await asyncio.sleep(0.2)
    assert await deployments() == 2


async def test_a_clock_met_while_paused_keeps_its_pause(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Resolved while waiting on the client: sla sends sla.met without sla.resumed."""
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    h = History(client_id, plan_id=f"plan-{client_id}")
    h.events += september(client_id, plan_id=h.plan_id)[:2]  # the client and its plan
    h.created("T7", "bug", "P2", berlin(9, 1, 9))
    h.clock(SlaClockStarted, "T7", "resolution", "P2", berlin(9, 1, 9), berlin(9, 1, 9))
    h.clock(SlaPaused, "T7", "resolution", "P2", berlin(9, 1, 9), berlin(9, 1, 10))
    h.clock(SlaMet, "T7", "resolution", "P2", berlin(9, 1, 9), berlin(9, 1, 13))
    await apply_events(app_sessions, *h.events)
    answer = await api.get(
        "/v1/reports/sla",
        params={"client_id": client_id, "from": "2026-09-01", "to": "2026-10-01"},
        headers=STAFF,
    )
    row = by_key(answer.json()["metrics"], "metric", "priority")[("resolution", "P2")]
    # 1 h counted before the pause; the 3 h paused until it was met are left out.
    assert (row["met"], row["business_seconds_to_meet_median"]) == (1, 3600.0)
    assert (row["wall_seconds_to_meet_median"], row["paused_seconds"]) == (4 * 3600.0, 3 * 3600.0)


async def test_business_time_is_worked_out_when_met_arrived_before_the_plan_calendar(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """sla.met of another partition can overtake the plan's calendar: the read model then
    holds no business time for that clock and the report works it out when asked, next to
    the clocks whose business time the read model has."""
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    h = History(client_id, plan_id=f"plan-{client_id}")
    client, plan = september(client_id, plan_id=h.plan_id)[:2]
    h.events.append(client)
    res = "resolution"
    # T7: Tue 1 Sep 09:00 → 13:00, met before the calendar is known: 4 h business.
    h.created("T7", "bug", "P2", berlin(9, 1, 9))
    h.clock(SlaClockStarted, "T7", res, "P2", berlin(9, 1, 9), berlin(9, 1, 9))
    h.clock(SlaMet, "T7", res, "P2", berlin(9, 1, 9), berlin(9, 1, 13))
    h.events.append(plan)
    # T8: Wed 16:00 → Thu 10:00: 2 h business, 18 h wall. T9: Fri 16:00 → Mon 11:00: 3 h, 67 h.
    for name, started, met in (
        ("T8", berlin(9, 2, 16), berlin(9, 3, 10)),
        ("T9", berlin(9, 4, 16), berlin(9, 7, 11)),
    ):
        h.created(name, "bug", "P2", started)
        h.clock(SlaClockStarted, name, res, "P2", started, started)
        h.clock(SlaMet, name, res, "P2", started, met)
    await apply_events(app_sessions, *h.events)
    async with app_sessions() as session:
        unknown = await session.scalars(
            select(ReportClock.ticket_id).where(
                ReportClock.client_id == client_id, ReportClock.business_seconds.is_(None)
            )
        )
        assert list(unknown) == [h.ticket("T7")]
    answer = await api.get(
        "/v1/reports/sla",
        params={"client_id": client_id, "from": "2026-09-01", "to": "2026-10-01"},
        headers=STAFF,
    )
    row = by_key(answer.json()["metrics"], "metric", "priority")[(res, "P2")]
    assert (row["met"], row["business_seconds_to_meet_median"]) == (3, 3 * 3600.0)
    assert row["business_seconds_to_meet_p90"] == 4 * 3600.0
    assert (row["wall_seconds_to_meet_median"], row["wall_seconds_to_meet_p90"]) == (
        18 * 3600.0,
        67 * 3600.0,
    )


async def test_cancelled_clocks_are_left_out_and_moved_due_times_are_reported(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Un-assigning a plan cancels its running clocks (sla.cancelled): they are neither met,
    breached nor running, unless a verdict came first. A calendar change moves a running
    clock's due time (sla.due_changed): the breach list reports the moved one."""
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    h = History(client_id, plan_id=f"plan-{client_id}")
    h.events += september(client_id, plan_id=h.plan_id)[:2]  # the client and its plan
    res = "resolution"
    first_due, moved_due = berlin(9, 1, 17), berlin(9, 2, 12)
    # T7: running, then cancelled: left out. T8: breached, then cancelled: still a breach.
    # T9: its due time moved to the next day, then breached there.
    for name in ("T7", "T8", "T9"):
        h.created(name, "bug", "P2", berlin(9, 1, 9))
        h.clock(SlaClockStarted, name, res, "P2", berlin(9, 1, 9), berlin(9, 1, 9), first_due)
    h.clock(SlaPaused, "T7", res, "P2", berlin(9, 1, 9), berlin(9, 1, 10), first_due)
    h.clock(SlaCancelled, "T7", res, "P2", berlin(9, 1, 9), berlin(9, 1, 11), first_due)
    h.clock(SlaBreached, "T8", res, "P2", berlin(9, 1, 9), first_due, first_due)
    h.clock(SlaCancelled, "T8", res, "P2", berlin(9, 1, 9), berlin(9, 1, 18), first_due)
    h.events.append(
        SlaDueChanged(
            ticket_id=h.ticket("T9"),
            client_id=client_id,
            metric=res,
            plan_id=h.plan_id,
            priority="P2",
            started_at=berlin(9, 1, 9),
            due_at=moved_due,
            occurred_at=berlin(9, 1, 12),
            previous_due_at=first_due,
        )
    )
    h.clock(SlaBreached, "T9", res, "P2", berlin(9, 1, 9), moved_due, moved_due)
    await apply_events(app_sessions, *h.events)
    answer = await api.get(
        "/v1/reports/sla",
        params={"client_id": client_id, "from": "2026-09-01", "to": "2026-10-01"},
        headers=STAFF,
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["totals"] == {
        "counted": 2,
        "met": 0,
        "breached": 2,
        "running": 0,
        "met_percent": 0.0,
    }
    due_of = {b["ticket_id"]: b["due_at"] for b in report["breaches"]}
    assert set(due_of) == {h.ticket("T8"), h.ticket("T9")}
    assert datetime.fromisoformat(due_of[h.ticket("T9")]) == moved_due

    # The un-assignment that cancelled them leaves the client without a plan, in its zone.
    await apply_events(
        app_sessions,
        SlaClientPlanUnassigned(
            client_id=client_id, plan_id=h.plan_id, unassigned_at=berlin(9, 1, 11)
        ),
    )
    async with app_sessions() as session:
        client = await session.get(ReportClient, client_id)
    assert client is not None
    assert (client.plan_id, client.timezone) == (None, "Europe/Berlin")
