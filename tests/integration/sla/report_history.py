"""A month of one client's history as events with explicit times, and its hand-worked figures.

The client's plan runs Monday to Friday 09:00-17:00 in Europe/Berlin (UTC+2 in
September 2026, whose 1st is a Tuesday). Every figure the report tests check is worked
out by hand in the comments below, never by the code under test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aftercare_shared.events.catalog import (
    AdvisoryMatched,
    AdvisoryPatched,
    AdvisoryPublished,
    ClientCreated,
    EventPayload,
    MonitorFailed,
    MonitorRecovered,
    MonitorUpserted,
    ReleaseDeployed,
    SlaBreached,
    SlaClientPlanAssigned,
    SlaClockEvent,
    SlaClockStarted,
    SlaMet,
    SlaPaused,
    SlaResumed,
    TicketCreated,
    TicketFeedbackReceived,
    TicketReopened,
    TicketResolved,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
CALENDAR: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
}
HOUR = 3600


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class History:
    """Builds the events of client ``client_id`` (ticket ids are prefixed with it)."""

    def __init__(self, client_id: str, plan_id: str) -> None:
        self.client_id = client_id
        self.plan_id = plan_id
        self.events: list[EventPayload] = []

    def ticket(self, name: str) -> str:
        return f"{self.client_id}-{name}"

    def created(self, name: str, kind: str, priority: str, at: datetime, title: str = "") -> None:
        self.events.append(
            TicketCreated(
                ticket_id=self.ticket(name),
                client_id=self.client_id,
                title=title or f"Ticket {name}",
                severity="low",
                priority=priority,
                status="new",
                kind=kind,
                fingerprint=name,
                created_at=at,
            )
        )

    def clock(
        self,
        event: type[SlaClockEvent],
        name: str,
        metric: str,
        priority: str,
        started: datetime,
        at: datetime,
        due: datetime | None = None,
    ) -> None:
        self.events.append(
            event(
                ticket_id=self.ticket(name),
                client_id=self.client_id,
                metric=metric,
                plan_id=self.plan_id,
                priority=priority,
                started_at=started,
                due_at=due or started + timedelta(days=30),
                occurred_at=at,
            )
        )

    def resolved(self, name: str, at: datetime) -> None:
        self.events.append(
            TicketResolved(ticket_id=self.ticket(name), client_id=self.client_id, resolved_at=at)
        )

    def feedback(self, name: str, rating: int, at: datetime, comment: str | None = None) -> None:
        self.events.append(
            TicketFeedbackReceived(
                feedback_id=f"{self.ticket(name)}-{rating}",
                ticket_id=self.ticket(name),
                client_id=self.client_id,
                rating=rating,
                comment=comment,
                resolved_at=at,
                received_at=at,
            )
        )


def september(client_id: str, plan_id: str) -> list[EventPayload]:
    h = History(client_id, plan_id)
    fr, res = "first_response", "resolution"
    h.events += [
        ClientCreated(client_id=client_id, name="Acme <GmbH>", created_at=utc(7, 1, 0)),
        SlaClientPlanAssigned(
            client_id=client_id, plan_id=plan_id, calendar=CALENDAR, assigned_at=utc(7, 1, 0)
        ),
    ]
    # T0 (August): feature request P3, opened Mon 31 Aug 10:00, first response met at 11:00;
    # still open at the end of September (the oldest open ticket, in both backlogs).
    h.created("T0", "feature_request", "P3", berlin(8, 31, 10), title="Export <all> orders")
    h.clock(SlaClockStarted, "T0", fr, "P3", berlin(8, 31, 10), berlin(8, 31, 10))
    h.clock(SlaMet, "T0", fr, "P3", berlin(8, 31, 10), berlin(8, 31, 11))
    # T6: opened Tue 1 Sep 00:30 Berlin = 31 Aug 22:30 UTC: September in the client's zone.
    # First response met 09:30: business 30 min (office opens 09:00), wall 9 h.
    h.created("T6", "bug", "P4", berlin(9, 1, 0, 30))
    h.clock(SlaClockStarted, "T6", fr, "P4", berlin(9, 1, 0, 30), berlin(9, 1, 0, 30))
    h.clock(SlaMet, "T6", fr, "P4", berlin(9, 1, 0, 30), berlin(9, 1, 9, 30))
    h.clock(SlaClockStarted, "T6", res, "P4", berlin(9, 1, 0, 30), berlin(9, 1, 0, 30))
    # T1: bug P1, Mon 7 Sep 10:00; first response met 10:20 (20 min), resolved 13:00 (3 h).
    h.created("T1", "bug", "P1", berlin(9, 7, 10))
    for metric in (fr, res):
        h.clock(SlaClockStarted, "T1", metric, "P1", berlin(9, 7, 10), berlin(9, 7, 10))
    h.clock(SlaMet, "T1", fr, "P1", berlin(9, 7, 10), berlin(9, 7, 10, 20))
    h.clock(SlaMet, "T1", res, "P1", berlin(9, 7, 10), berlin(9, 7, 13))
    h.resolved("T1", berlin(9, 7, 13))
    h.feedback("T1", 4, berlin(9, 7, 15), "Fast")
    # T2: incident P2, Tue 8 Sep 16:00; first response due 17:00 and breached then;
    # resolved Wed 9 Sep 11:00: business 1 h + 2 h = 3 h, wall 19 h; the breach was
    # 18 h late when the ticket was resolved.
    h.created("T2", "incident", "P2", berlin(9, 8, 16))
    for metric in (fr, res):
        h.clock(SlaClockStarted, "T2", metric, "P2", berlin(9, 8, 16), berlin(9, 8, 16))
    h.clock(SlaBreached, "T2", fr, "P2", berlin(9, 8, 16), berlin(9, 8, 17), due=berlin(9, 8, 17))
    h.clock(SlaMet, "T2", res, "P2", berlin(9, 8, 16), berlin(9, 9, 11))
    h.resolved("T2", berlin(9, 9, 11))
    # T3: bug P3, Mon 14 Sep 09:00; first response 10:00 (1 h). Waiting on the client from
    # Mon 12:00 to Wed 16 Sep 12:00 (48 h wall paused); resolved Thu 17 Sep 15:00:
    # business Mon 3 h + Wed 5 h + Thu 6 h = 14 h; wall 78 h.
    h.created("T3", "bug", "P3", berlin(9, 14, 9))
    for metric in (fr, res):
        h.clock(SlaClockStarted, "T3", metric, "P3", berlin(9, 14, 9), berlin(9, 14, 9))
    h.clock(SlaMet, "T3", fr, "P3", berlin(9, 14, 9), berlin(9, 14, 10))
    h.clock(SlaPaused, "T3", res, "P3", berlin(9, 14, 9), berlin(9, 14, 12))
    h.clock(SlaResumed, "T3", res, "P3", berlin(9, 14, 9), berlin(9, 16, 12))
    h.clock(SlaMet, "T3", res, "P3", berlin(9, 14, 9), berlin(9, 17, 15))
    h.resolved("T3", berlin(9, 17, 15))
    # T4: question P4, Fri 18 Sep 16:00; first response 16:30 (30 min); resolved Mon 21
    # 10:00 (business 2 h), reopened Tue 22 09:00 (the 23 h closed stretch is excluded),
    # resolved again Tue 11:00: business 4 h, wall 91 h. Rated after each resolution.
    h.created("T4", "question", "P4", berlin(9, 18, 16))
    for metric in (fr, res):
        h.clock(SlaClockStarted, "T4", metric, "P4", berlin(9, 18, 16), berlin(9, 18, 16))
    h.clock(SlaMet, "T4", fr, "P4", berlin(9, 18, 16), berlin(9, 18, 16, 30))
    h.clock(SlaMet, "T4", res, "P4", berlin(9, 18, 16), berlin(9, 21, 10))
    h.resolved("T4", berlin(9, 21, 10))
    h.feedback("T4", 3, berlin(9, 21, 12), "Good, but <script>alert(1)</script> slow")
    h.events.append(
        TicketReopened(ticket_id=h.ticket("T4"), client_id=client_id, reopened_at=berlin(9, 22, 9))
    )
    h.clock(SlaResumed, "T4", res, "P4", berlin(9, 18, 16), berlin(9, 22, 9))
    h.clock(SlaMet, "T4", res, "P4", berlin(9, 18, 16), berlin(9, 22, 11))
    h.resolved("T4", berlin(9, 22, 11))
    h.feedback("T4", 5, berlin(9, 22, 12))
    # T5: bug P1, Wed 30 Sep 16:30; first response due 17:00, breached; still open at the
    # end of the month (1 Oct 00:00 Berlin): 7 h late then. Its resolution clock runs.
    h.created("T5", "bug", "P1", berlin(9, 30, 16, 30))
    for metric in (fr, res):
        h.clock(SlaClockStarted, "T5", metric, "P1", berlin(9, 30, 16, 30), berlin(9, 30, 16, 30))
    h.clock(
        SlaBreached,
        "T5",
        fr,
        "P1",
        berlin(9, 30, 16, 30),
        berlin(9, 30, 17),
        due=berlin(9, 30, 17),
    )
    # Releases: one deployment in August, one in September; an advisory patched in 3 days.
    h.events += [
        ReleaseDeployed(
            deployment_id=f"{client_id}-D0",
            client_id=client_id,
            environment="staging",
            product="shop",
            version="1.1.0",
            deployed_at=utc(8, 20, 10),
        ),
        ReleaseDeployed(
            deployment_id=f"{client_id}-D1",
            client_id=client_id,
            environment="production",
            product="shop",
            version="1.2.0",
            previous_version="1.1.0",
            deployed_at=utc(9, 10, 10),
            fixed_ticket_ids=[h.ticket("T1")],
        ),
        AdvisoryPublished(
            advisory_id=f"GHSA-{client_id}",
            aliases=[],
            summary="Prototype <pollution>",
            severity="HIGH",
            packages=["npm:lodash"],
            affected_clients=1,
            published_at=utc(9, 12, 8),
        ),
        AdvisoryMatched(
            advisory_id=f"GHSA-{client_id}",
            aliases=[],
            client_id=client_id,
            environment="production",
            installed_version="4.17.0",
            fixed_versions=["4.17.21"],
            severity="HIGH",
            matched_at=utc(9, 12, 8),
        ),
        AdvisoryPatched(
            advisory_id=f"GHSA-{client_id}",
            client_id=client_id,
            deployment_id=f"{client_id}-D1",
            patched_at=utc(9, 15, 8),
        ),
    ]
    # Monitors: "Checkout" since 1 Aug, down 3 h on 10 Sep and from 30 Sep 20:00 UTC to
    # 1 Oct 02:00 UTC (2 h of it in September, which ends 30 Sep 22:00 UTC): 5 h of the
    # 720 h month, uptime 99.306 %. "API" watched from 15 Sep 22:00 UTC, never down.
    checkout, api = f"{client_id}-M1", f"{client_id}-M2"
    h.events += [
        MonitorUpserted(
            monitor_id=checkout,
            client_id=client_id,
            name="Checkout <heartbeat>",
            slug="checkout",
            kind="heartbeat",
            environment="production",
            paused=False,
            updated_at=utc(8, 1, 0),
        ),
        MonitorUpserted(
            monitor_id=api,
            client_id=client_id,
            name="API",
            slug="api",
            kind="uptime",
            paused=False,
            updated_at=utc(9, 15, 22),
        ),
    ]
    for failed, recovered in ((utc(9, 10, 10), utc(9, 10, 13)), (utc(9, 30, 20), utc(10, 1, 2))):
        h.events += [
            MonitorFailed(
                monitor_id=checkout,
                client_id=client_id,
                name="Checkout <heartbeat>",
                slug="checkout",
                kind="heartbeat",
                reason="missed",
                failed_at=failed,
            ),
            MonitorRecovered(
                monitor_id=checkout,
                client_id=client_id,
                name="Checkout <heartbeat>",
                slug="checkout",
                failed_at=failed,
                recovered_at=recovered,
            ),
        ]
    return h.events


def by_key(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[key] for key in keys): row for row in rows}


# metric, priority -> counted, met, breached, running, met %, business median, p90,
# wall median, p90, paused seconds (hand-worked in ``september`` above).
SEPTEMBER_SLA: dict[tuple[str, str], tuple[Any, ...]] = {
    ("first_response", "P1"): (2, 1, 1, 0, 50.0, 1200.0, 1200.0, 1200.0, 1200.0, 0.0),
    ("first_response", "P2"): (1, 0, 1, 0, 0.0, None, None, None, None, 0.0),
    ("first_response", "P3"): (1, 1, 0, 0, 100.0, 3600.0, 3600.0, 3600.0, 3600.0, 0.0),
    ("first_response", "P4"): (2, 2, 0, 0, 100.0, 1800.0, 1800.0, 17100.0, 32400.0, 0.0),
    ("resolution", "P1"): (2, 1, 0, 1, 100.0, 10800.0, 10800.0, 10800.0, 10800.0, 0.0),
    ("resolution", "P2"): (1, 1, 0, 0, 100.0, 10800.0, 10800.0, 68400.0, 68400.0, 0.0),
    ("resolution", "P3"): (1, 1, 0, 0, 100.0, 50400.0, 50400.0, 280800.0, 280800.0, 172800.0),
    ("resolution", "P4"): (2, 1, 0, 1, 100.0, 14400.0, 14400.0, 327600.0, 327600.0, 82800.0),
}
SLA_COLUMNS = (
    "counted",
    "met",
    "breached",
    "running",
    "met_percent",
    "business_seconds_to_meet_median",
    "business_seconds_to_meet_p90",
    "wall_seconds_to_meet_median",
    "wall_seconds_to_meet_p90",
    "paused_seconds",
)
# MTTR: creation to each resolution in the month. P4: T4 resolved twice, 66 h and 91 h.
SEPTEMBER_MTTR = {
    "P1": (1, 3 * HOUR),
    "P2": (1, 19 * HOUR),
    "P3": (1, 78 * HOUR),
    "P4": (2, (66 + 91) / 2 * HOUR),
}
SEPTEMBER_TRENDS = {
    # figure: (September, August, change)
    "tickets_opened": (6, 1, 5),
    "tickets_resolved": (5, 0, 5),
    "backlog_end": (3, 1, 2),
    "sla_met_percent": (80.0, 100.0, -20.0),
    "sla_breaches": (2, 0, 2),
    "deployments": (1, 1, 0),
    "uptime_percent": (99.653, 100.0, -0.35),
    "satisfaction_average": (4.0, None, None),
}
