"""Ping URLs a shell ``cron`` line can call with ``curl``: the key in the URL is the
credential (rotatable), so nothing else is asked for.

``/ping/{key}`` success, ``/ping/{key}/start`` a run began, ``/ping/{key}/fail`` a run
failed, ``/ping/{key}/{exit_status}`` the command's exit status (0 success, else failure);
GET, HEAD and POST alike (a POST body is ignored).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import PlainTextResponse

from aftercare_intake.api.dependencies import ReportRateLimiterDep, SettingsDep
from aftercare_intake.errors import InvalidMonitorError
from aftercare_intake.monitors import service
from aftercare_intake.monitors.vocabulary import ReportedStatus
from aftercare_shared.clock import utc_now
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/ping",
    tags=["monitors"],
    responses=problem_responses(
        {
            404: "No monitor has this ping key (it may have been rotated).",
            422: "The last part is not start, fail or an exit status 0-255.",
            429: "Too many pings for this monitor (the key's INTAKE_REPORT_RATE_* bucket); "
            "see Retry-After.",
        }
    ),
)

PingKey = Annotated[str, Path(min_length=8, max_length=100)]
PING_METHODS = ["GET", "HEAD", "POST"]


def _check_in_for(action: str) -> service.CheckIn:
    if action == "start":
        return service.CheckIn(status="in_progress", source="ping")
    if action == "fail":
        return service.CheckIn(status="error", source="ping")
    if action.isdigit() and int(action) <= 255:
        code = int(action)
        status: ReportedStatus = "ok" if code == 0 else "error"
        return service.CheckIn(status=status, source="ping", exit_status=code)
    raise InvalidMonitorError(
        f"{action[:20]!r} is not start, fail or an exit status (0-255).", field="path"
    )


async def _ping(
    session: SessionDep,
    settings: SettingsDep,
    limiter: ReportRateLimiterDep,
    ping_key: str,
    check_in: service.CheckIn,
) -> PlainTextResponse:
    # A runaway loop pinging one monitor would queue on its row lock: refuse it early.
    await limiter.check(session, f"ping:{ping_key}")
    await service.check_in_by_ping_key(
        session,
        ping_key=ping_key,
        check_in=check_in,
        now=utc_now(),
        policy=settings.occurrence_policy,
    )
    return PlainTextResponse("OK\n")


async def ping(
    ping_key: PingKey, session: SessionDep, settings: SettingsDep, limiter: ReportRateLimiterDep
) -> PlainTextResponse:
    """The job succeeded."""
    check_in = service.CheckIn(status="ok", source="ping")
    return await _ping(session, settings, limiter, ping_key, check_in)


async def ping_action(
    ping_key: PingKey,
    action: Annotated[str, Path(max_length=20)],
    session: SessionDep,
    settings: SettingsDep,
    limiter: ReportRateLimiterDep,
) -> PlainTextResponse:
    """``start``, ``fail`` or the exit status of the job."""
    return await _ping(session, settings, limiter, ping_key, _check_in_for(action))


# One operation per method, so each has its own operation id in the OpenAPI document.
for _method in PING_METHODS:
    router.add_api_route(
        "/{ping_key}",
        ping,
        methods=[_method],
        response_class=PlainTextResponse,
        operation_id=f"ping_{_method.lower()}",
    )
    router.add_api_route(
        "/{ping_key}/{action}",
        ping_action,
        methods=[_method],
        response_class=PlainTextResponse,
        operation_id=f"ping_action_{_method.lower()}",
    )
