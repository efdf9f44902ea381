"""Monitors (routine checks): staff manage them; a client key reads its own and checks in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.api.clients import public_base_url
from aftercare_intake.api.dependencies import SettingsDep
from aftercare_intake.api.monitor_schemas import (
    CheckInCreate,
    CheckInOut,
    MonitorCreate,
    MonitorOut,
    MonitorUpdate,
    ProbeOut,
    ScheduleOut,
    UptimeIncident,
    UptimeReport,
)
from aftercare_intake.models import Monitor, MonitorCheckIn, MonitorProbe
from aftercare_intake.monitors import service, store
from aftercare_intake.monitors.evaluation import shown_state
from aftercare_shared.auth import Principal
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal, SubmittingPrincipal
from aftercare_shared.clock import utc_now
from aftercare_shared.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    PageCursor,
    PageLimit,
    decode_cursor,
    page_of,
)
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

LAST_CHECK_INS = 5

router = APIRouter(
    prefix="/v1",
    tags=["monitors"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "The call needs a staff token.",
            404: "No such monitor (or client), or not one this client key may see.",
            409: "The client already has a monitor with that slug.",
            422: "The request is not valid: a crontab expression or time zone that cannot "
            "be evaluated (the detail and `field` name it), an uptime URL the SSRF rules "
            "refuse, a bad cursor or period; nothing was changed.",
        }
    ),
)


def ping_url(base_url: str, ping_key: str) -> str:
    return f"{base_url.rstrip('/')}/ping/{ping_key}"


def check_in_out(row: MonitorCheckIn) -> CheckInOut:
    return CheckInOut.model_validate(row, from_attributes=True)


async def monitor_out(
    session: AsyncSession, monitor: Monitor, *, principal: Principal, base_url: str
) -> MonitorOut:
    latest = await store.latest_check_ins(session, monitor_id=monitor.id, limit=LAST_CHECK_INS)
    return monitor_view(monitor, latest, principal=principal, base_url=base_url)


def monitor_view(
    monitor: Monitor, latest: list[MonitorCheckIn], *, principal: Principal, base_url: str
) -> MonitorOut:
    """The answer for ``monitor`` with its ``latest`` check-ins (newest first)."""
    schedule = service.schedule_of(monitor)
    return MonitorOut(
        id=monitor.id,
        client_id=monitor.client_id,
        name=monitor.name,
        slug=monitor.slug,
        kind=monitor.kind,
        environment=monitor.environment,
        schedule=ScheduleOut(
            type=schedule.type,
            value=schedule.crontab if schedule.crontab is not None else schedule.interval or 0,
            unit=schedule.unit,
        ),
        timezone=monitor.timezone,
        checkin_margin_minutes=monitor.checkin_margin_minutes,
        max_runtime_minutes=monitor.max_runtime_minutes,
        failure_threshold=monitor.failure_threshold,
        recovery_threshold=monitor.recovery_threshold,
        priority=monitor.priority,
        paused=monitor.paused,
        url=monitor.url,
        method=monitor.method,
        expected_status=monitor.expected_status,
        body_contains=monitor.body_contains,
        timeout_seconds=monitor.timeout_seconds,
        certificate_expiry_days=monitor.certificate_expiry_days,
        follow_redirects=monitor.follow_redirects,
        state=shown_state(
            monitor.state,
            paused=monitor.paused,
            next_expected_at=monitor.next_expected_at,
            now=utc_now(),
        ),
        next_expected_at=None if monitor.paused else monitor.next_expected_at,
        last_check_in_at=monitor.last_check_in_at,
        last_check_ins=[check_in_out(row) for row in latest],
        open_ticket_id=monitor.open_ticket_id,
        ping_url=ping_url(base_url, monitor.ping_key) if principal.is_staff else None,
        created_at=monitor.created_at,
        updated_at=monitor.updated_at,
    )


@router.post("/monitors", status_code=201, response_model=MonitorOut)
async def create_monitor(
    body: MonitorCreate,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
) -> MonitorOut:
    """A heartbeat (check-ins on a cron or interval schedule) or an uptime probe."""
    values = service.MonitorFields(
        name=body.name,
        slug=body.slug,
        kind=body.kind,
        schedule_type=body.schedule.type,
        schedule_value=body.schedule.value,
        schedule_unit=getattr(body.schedule, "unit", None),
        environment=body.environment,
        timezone=body.timezone,
        checkin_margin_minutes=body.checkin_margin_minutes,
        max_runtime_minutes=body.max_runtime_minutes,
        failure_threshold=body.failure_threshold,
        recovery_threshold=body.recovery_threshold,
        priority=body.priority,
        paused=body.paused,
        url=body.url,
        method=body.method,
        expected_status=body.expected_status,
        body_contains=body.body_contains,
        timeout_seconds=body.timeout_seconds,
        certificate_expiry_days=body.certificate_expiry_days,
        follow_redirects=body.follow_redirects,
    )
    monitor = await service.create_monitor(
        session, client_id=body.client_id, values=values, now=utc_now()
    )
    return await monitor_out(
        session, monitor, principal=principal, base_url=public_base_url(settings, request)
    )


@router.get("/monitors", response_model=Page[MonitorOut])
async def list_monitors(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    client_id: str | None = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[MonitorOut]:
    """Newest first; a client key sees its own client's monitors only."""
    rows = await service.list_visible_monitors(
        session,
        principal=principal,
        client_id=client_id,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    base_url = public_base_url(settings, request)
    # One statement for the whole page's check-ins, not one per monitor.
    latest = await store.latest_check_ins_of(
        session, monitor_ids=[row.id for row in rows[:limit]], limit=LAST_CHECK_INS
    )
    shown = {
        row.id: monitor_view(row, latest[row.id], principal=principal, base_url=base_url)
        for row in rows[:limit]
    }
    return page_of(
        rows, limit=limit, key=lambda row: (row.created_at, row.id), item=lambda r: shown[r.id]
    )


@router.get("/monitors/{monitor_id}", response_model=MonitorOut)
async def get_monitor(
    monitor_id: str,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> MonitorOut:
    """With its state, next expected time, last check-ins and open ticket."""
    monitor = await service.visible_monitor(session, principal=principal, monitor_id=monitor_id)
    return await monitor_out(
        session, monitor, principal=principal, base_url=public_base_url(settings, request)
    )


@router.patch("/monitors/{monitor_id}", response_model=MonitorOut)
async def update_monitor(
    monitor_id: str,
    body: MonitorUpdate,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
) -> MonitorOut:
    """Change any field; ``paused: true`` stops every deadline and probe until resumed."""
    monitor = await service.update_monitor(
        session, monitor_id=monitor_id, changes=body.field_changes(), now=utc_now()
    )
    return await monitor_out(
        session, monitor, principal=principal, base_url=public_base_url(settings, request)
    )


@router.delete("/monitors/{monitor_id}", status_code=204)
async def delete_monitor(
    monitor_id: str, session: SessionDep, principal: StaffPrincipal
) -> Response:
    """The monitor and its history go; a ticket it opened stays."""
    await service.delete_monitor(session, monitor_id=monitor_id, now=utc_now())
    return Response(status_code=204)


@router.post("/monitors/{monitor_id}/ping-key", response_model=MonitorOut)
async def rotate_ping_key(
    monitor_id: str,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
) -> MonitorOut:
    """A new secret ping URL; the old one stops working at once."""
    monitor = await service.rotate_ping_key(session, monitor_id=monitor_id, now=utc_now())
    return await monitor_out(
        session, monitor, principal=principal, base_url=public_base_url(settings, request)
    )


@router.post("/monitors/{monitor_id}/check-ins", status_code=201, response_model=CheckInOut)
async def check_in(
    monitor_id: str,
    body: CheckInCreate,
    session: SessionDep,
    principal: SubmittingPrincipal,
    settings: SettingsDep,
) -> CheckInOut:
    """A check-in with a key (the client's, of either scope, or staff's)."""
    row = await service.check_in_by_id(
        session,
        principal=principal,
        monitor_id=monitor_id,
        check_in=service.CheckIn(
            status=body.status,
            source="api",
            check_in_id=body.check_in_id,
            duration_ms=body.duration_ms,
            exit_status=body.exit_status,
            environment=body.environment,
        ),
        now=utc_now(),
        policy=settings.occurrence_policy,
    )
    return check_in_out(row)


@router.get("/monitors/{monitor_id}/check-ins", response_model=Page[CheckInOut])
async def list_check_ins(
    monitor_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[CheckInOut]:
    """Newest first, with the misses and timeouts the timer recorded."""
    monitor = await service.visible_monitor(session, principal=principal, monitor_id=monitor_id)
    rows = await store.page_check_ins(
        session,
        monitor_id=monitor.id,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    return page_of(rows, limit=limit, key=lambda row: (row.created_at, row.id), item=check_in_out)


def _probe_out(row: MonitorProbe) -> ProbeOut:
    return ProbeOut.model_validate(row, from_attributes=True)


@router.get("/monitors/{monitor_id}/probes", response_model=Page[ProbeOut])
async def list_probes(
    monitor_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ProbeOut]:
    """An uptime monitor's probes, newest first: outcome, status, latency, error."""
    monitor = await service.visible_monitor(session, principal=principal, monitor_id=monitor_id)
    rows = await store.page_probes(
        session,
        monitor_id=monitor.id,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    return page_of(rows, limit=limit, key=lambda row: (row.started_at, row.id), item=_probe_out)


@router.get(
    "/monitors/{monitor_id}/uptime", response_model=UptimeReport, response_model_by_alias=True
)
async def uptime(
    monitor_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    period_from: Annotated[AwareDatetime, Query(alias="from", description="With its offset.")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="With its offset.")],
) -> UptimeReport:
    """Availability over a period: the share of it outside incidents, and the incidents."""
    report = await service.availability(
        session,
        principal=principal,
        monitor_id=monitor_id,
        start=period_from,
        end=period_to,
        now=utc_now(),
    )
    return UptimeReport(
        monitor_id=report.monitor.id,
        period_from=report.start,
        period_to=report.end,
        availability_percent=report.percent,
        downtime_seconds=report.downtime.total_seconds(),
        probes=report.probes,
        probes_up=report.probes_up,
        incidents=[
            UptimeIncident(
                id=span.incident.id,
                ticket_id=span.incident.ticket_id,
                reason=span.incident.reason,
                detail=span.incident.detail,
                started_at=span.incident.started_at,
                ended_at=span.incident.ended_at,
                downtime_seconds=span.downtime.total_seconds(),
            )
            for span in report.incidents
        ],
    )
