"""The maintenance report of one client for a month (or quarter), with the trend."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.events.catalog import PRIORITIES, TICKET_KINDS
from aftercare_sla.reports import queries, ticket_sql
from aftercare_sla.reports.figures import ordered, overlap, seconds
from aftercare_sla.reports.models import ReportClient
from aftercare_sla.reports.periods import Period
from aftercare_sla.reports.sla_compliance import Window, sla_compliance

HEADLINES: tuple[tuple[str, str], ...] = (
    ("tickets_opened", "Tickets opened"),
    ("tickets_resolved", "Tickets resolved"),
    ("backlog_end", "Open at the end"),
    ("sla_met_percent", "SLA met %"),
    ("sla_breaches", "SLA breaches"),
    ("deployments", "Deployments"),
    ("uptime_percent", "Uptime %"),
    ("satisfaction_average", "Satisfaction (1-5)"),
)
"""The headline figures (key, label), compared with the previous period."""


def window_of(period: Period, timezone: str, now: datetime) -> Window:
    start, end = period.bounds(timezone)
    return Window(start=start, end=end, timezone=timezone, as_of=min(end, now))


async def monthly_report(
    session: AsyncSession, *, client: ReportClient, period: Period, now: datetime
) -> dict[str, Any]:
    window = window_of(period, client.timezone, now)
    report = await _sections(session, client_id=client.client_id, window=window)
    previous_window = window_of(period.previous(), client.timezone, now)
    previous = await _sections(
        session, client_id=client.client_id, window=previous_window, headlines_only=True
    )
    headlines = report["headlines"]
    report["trend"] = [
        {
            "figure": key,
            "label": label,
            "current": headlines[key],
            "previous": previous["headlines"][key],
            "change": _change(headlines[key], previous["headlines"][key]),
        }
        for key, label in HEADLINES
    ]
    return {
        "client_id": client.client_id,
        "client_name": client.name,
        "period": period.label,
        "previous_period": period.previous().label,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "timezone": window.timezone,
        "as_of": window.as_of.isoformat(),
        **report,
    }


def _change(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None:
        return None
    return round(current - previous, 2)


async def _sections(
    session: AsyncSession, *, client_id: str, window: Window, headlines_only: bool = False
) -> dict[str, Any]:
    """Every section and the headlines; ``headlines_only`` spares the SLA details."""
    tickets = await _tickets(session, client_id=client_id, window=window)
    sla = await sla_compliance(
        session, client_id=client_id, plan_id=None, window=window, totals_only=headlines_only
    )
    releases = await _releases(session, client_id=client_id, window=window)
    monitoring = await _monitoring(session, client_id=client_id, window=window)
    satisfaction = await _satisfaction(session, client_id=client_id, window=window)
    return {
        "headlines": {
            "tickets_opened": tickets["opened_total"],
            "tickets_resolved": tickets["resolved_total"],
            "backlog_end": tickets["backlog_end"],
            "sla_met_percent": sla["totals"]["met_percent"],
            "sla_breaches": sla["totals"]["breached"],
            "deployments": len(releases["deployments"]),
            "uptime_percent": monitoring["uptime_percent"],
            "satisfaction_average": satisfaction["average"],
        },
        "tickets": tickets,
        "sla": {key: sla[key] for key in ("totals", "metrics", "mttr", "breaches") if key in sla},
        "releases": releases,
        "monitoring": monitoring,
        "satisfaction": satisfaction,
    }


def _by_kind_and_priority(counts: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
    kinds = ordered([kind for kind, _ in counts], TICKET_KINDS)
    priorities = ordered([priority for _, priority in counts] + list(PRIORITIES), PRIORITIES)
    return [
        {
            "kind": kind,
            **{priority: counts[(kind, priority)] for priority in priorities},
            "total": sum(counts[(kind, priority)] for priority in priorities),
        }
        for kind in kinds
    ]


async def _tickets(session: AsyncSession, *, client_id: str, window: Window) -> dict[str, Any]:
    # Counted by Postgres (ticket_sql): only counts and the oldest open ticket come back.
    opened = await ticket_sql.opened_by_kind_and_priority(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    resolved = await ticket_sql.resolved_by_kind_and_priority(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    backlog_start, backlog_end = await ticket_sql.backlogs(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    oldest = await ticket_sql.oldest_open(session, client_id=client_id, at=window.as_of)
    return {
        "opened_total": opened.total(),
        "resolved_total": resolved.total(),
        "opened": _by_kind_and_priority(opened),
        "resolved": _by_kind_and_priority(resolved),
        "backlog_start": backlog_start,
        "backlog_end": backlog_end,
        "oldest_open": None
        if oldest is None
        else {
            "ticket_id": oldest.ticket_id,
            "title": oldest.title,
            "priority": oldest.priority,
            "created_at": oldest.created_at.isoformat(),
            "age_days": round(seconds(window.as_of - oldest.created_at) / 86400, 1),
        },
    }


async def _releases(session: AsyncSession, *, client_id: str, window: Window) -> dict[str, Any]:
    deployments = await queries.deployments(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    exposures = await queries.exposures(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    advisories = []
    for exposure, advisory in exposures:
        since = advisory.published_at if advisory is not None else exposure.matched_at
        patched = (
            exposure.patched_at
            if exposure.patched_at and exposure.patched_at < window.as_of
            else None
        )
        advisories.append(
            {
                "advisory_id": exposure.advisory_id,
                "summary": exposure.summary,
                "severity": exposure.severity,
                "environments": exposure.environments,
                "published_at": since.isoformat(),
                "matched_at": exposure.matched_at.isoformat(),
                "patched_at": patched.isoformat() if patched else None,
                "patch_deployment_id": exposure.deployment_id if patched else None,
                "days_to_patch": round(seconds(patched - since) / 86400, 2) if patched else None,
            }
        )
    return {
        "deployments": [
            {
                "deployment_id": deployment.deployment_id,
                "environment": deployment.environment,
                "product": deployment.product,
                "version": deployment.version,
                "previous_version": deployment.previous_version,
                "fixed_tickets": deployment.fixed_tickets,
                "deployed_at": deployment.deployed_at.isoformat(),
            }
            for deployment in deployments
        ],
        "advisories": advisories,
    }


async def _monitoring(session: AsyncSession, *, client_id: str, window: Window) -> dict[str, Any]:
    monitors = await queries.monitors(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    incidents = await queries.incidents(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    rows: list[dict[str, Any]] = []
    uptimes: list[float] = []
    for monitor in monitors:
        low = max(window.start, monitor.first_seen_at)
        high = min(window.as_of, monitor.deleted_at or window.as_of)
        watched = seconds(max(high - low, timedelta(0)))
        mine = [incident for incident in incidents if incident.monitor_id == monitor.monitor_id]
        down = sum(
            seconds(overlap(i.failed_at, i.recovered_at or window.as_of, low, high)) for i in mine
        )
        uptime = round(100 * (1 - down / watched), 3) if watched else None
        if uptime is not None:
            uptimes.append(uptime)
        rows.append(
            {
                "monitor_id": monitor.monitor_id,
                "name": monitor.name,
                "kind": monitor.kind,
                "environment": monitor.environment,
                "watched_seconds": watched,
                "down_seconds": down,
                "incidents": len(mine),
                "uptime_percent": uptime,
            }
        )
    names = {monitor.monitor_id: monitor.name for monitor in monitors}
    return {
        "monitors": rows,
        "uptime_percent": round(sum(uptimes) / len(uptimes), 3) if uptimes else None,
        "incidents": [
            {
                "monitor_id": incident.monitor_id,
                "monitor": names.get(incident.monitor_id, incident.monitor_id),
                "reason": incident.reason,
                "ticket_id": incident.ticket_id,
                "failed_at": incident.failed_at.isoformat(),
                "recovered_at": (
                    incident.recovered_at.isoformat()
                    if incident.recovered_at and incident.recovered_at < window.as_of
                    else None
                ),
                "down_seconds": seconds(
                    overlap(
                        incident.failed_at,
                        incident.recovered_at or window.as_of,
                        window.start,
                        window.as_of,
                    )
                ),
            }
            for incident in incidents
        ],
    }


async def _satisfaction(session: AsyncSession, *, client_id: str, window: Window) -> dict[str, Any]:
    # Counted by Postgres; only the responses with a comment come back as rows.
    ratings = await queries.feedback_ratings(
        session, client_id=client_id, start=window.start, end=window.as_of
    )
    responses = ratings.total()
    points = sum(rating * count for rating, count in ratings.items())
    return {
        "responses": responses,
        "average": round(points / responses, 2) if responses else None,
        "ratings": {str(rating): ratings[rating] for rating in range(1, 6)},
        "comments": [
            {
                "ticket_id": entry.ticket_id,
                "rating": entry.rating,
                "comment": entry.comment,
                "received_at": entry.received_at.isoformat(),
            }
            for entry in await queries.feedback_comments(
                session, client_id=client_id, start=window.start, end=window.as_of
            )
        ],
    }
