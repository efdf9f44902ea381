"""Sentry's ingest endpoints, for unmodified Sentry SDKs: change the DSN, nothing else.

``POST /api/{project_id}/envelope/`` (every current SDK) and ``POST /api/{project_id}/store/``
(the legacy single-event endpoint). Bodies are streamed through their decoder under hard
limits (see :mod:`aftercare_intake.sentry.envelope`); nothing is written before the whole
body has been read and every event in it mapped.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from aftercare_intake import ingest, repository
from aftercare_intake.api.dependencies import (
    IngestGuardDep,
    OneStatementFilingDep,
    SettingsDep,
)
from aftercare_intake.api.schemas import IngestAccepted, ProjectId
from aftercare_intake.errors import (
    MonitorNotFoundError,
    OriginNotAllowedError,
    ProjectNotFoundError,
)
from aftercare_intake.ingest import IngestTarget
from aftercare_intake.monitors import sentry_checkins
from aftercare_intake.sentry import cors
from aftercare_intake.sentry.credentials import agreed_key, key_from_auth_header, key_from_query
from aftercare_intake.sentry.envelope import (
    CHECK_IN_ITEM,
    DEFAULT_LIMITS,
    EVENT_ITEM,
    EnvelopeReader,
    read_body,
    read_event_body,
)
from aftercare_shared.clock import utc_now
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

CORS_ORIGIN_STATE = "sentry_cors_origin"
"""Request state naming the origin allowed to read this answer (see ``SentryCorsMiddleware``)."""

router = APIRouter(
    prefix="/api",
    tags=["sentry ingest"],
    responses=problem_responses(
        {
            400: "The body cannot be read: the detail names the fault (bad header line, "
            "length mismatch, invalid JSON item, wrong compression, truncated body). "
            "Nothing was stored.",
            401: "No DSN key (X-Sentry-Auth, ?sentry_key= or the envelope's dsn), an unknown "
            "or revoked one, or two different ones.",
            403: "The key is not valid for this project, or the browser origin is not allowed.",
            413: "A hard limit was crossed: 20 MiB decompressed envelope, 1 MiB event, 100 items.",
            404: "The cron form names a monitor slug this client does not have.",
            415: "A Content-Encoding other than gzip, deflate, br or none.",
            422: "A check-in's monitor_config cannot be evaluated (bad crontab expression "
            "or time zone; the detail names it). Nothing was stored.",
            429: "Over the key's or the project's rate: Retry-After and X-Sentry-Rate-Limits "
            "say how long SDKs must drop events.",
        }
    ),
)

SentryKey = Annotated[str | None, Query(max_length=64, description="The DSN's public key.")]
XSentryAuth = Annotated[str | None, Header(max_length=2_000)]
Authorization = Annotated[str | None, Header(max_length=2_000)]
ContentEncoding = Annotated[str | None, Header(max_length=100)]
Origin = Annotated[str | None, Header(max_length=500)]

_ENVELOPE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A Sentry envelope (https://develop.sentry.dev/sdk/data-model/envelopes/), "
        "optionally compressed (Content-Encoding gzip, deflate or br).",
        "content": {"application/x-sentry-envelope": {"schema": {"type": "string"}}},
    }
}
_STORE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One Sentry event as JSON, optionally compressed.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _header_key(x_sentry_auth: str | None, authorization: str | None) -> str | None:
    if x_sentry_auth:
        return key_from_auth_header(x_sentry_auth)
    if authorization and authorization.lower().startswith("sentry "):
        return key_from_auth_header(authorization)
    return None


async def _admit(
    request: Request,
    session: SessionDep,
    guard: IngestGuardDep,
    *,
    project_id: int,
    public_key: str,
    origin: str | None,
) -> IngestTarget:
    target = await ingest.authorize(
        session, public_key=public_key, project_id=project_id, origin=origin
    )
    if origin is not None:
        # From here on, even a refusal (429 above all) is readable by the browser SDK.
        setattr(request.state, CORS_ORIGIN_STATE, origin)
    await guard.check(session, target)
    return target


async def _admit_before_reading(
    request: Request,
    session: SessionDep,
    guard: IngestGuardDep,
    *,
    project_id: int,
    public_key: str,
    origin: str | None,
) -> IngestTarget:
    """Admit the sender, then give the connection back: a body may take long to arrive,
    and a slow sender must not hold one of the pool's connections meanwhile."""
    target = await _admit(
        request, session, guard, project_id=project_id, public_key=public_key, origin=origin
    )
    await session.rollback()
    return target


@router.post(
    "/{project_id}/envelope/",
    response_model=IngestAccepted,
    response_model_exclude_none=True,
    openapi_extra=_ENVELOPE_BODY,
)
async def receive_envelope(
    project_id: ProjectId,
    request: Request,
    session: SessionDep,
    guard: IngestGuardDep,
    settings: SettingsDep,
    one_statement: OneStatementFilingDep,
    sentry_key: SentryKey = None,
    x_sentry_auth: XSentryAuth = None,
    authorization: Authorization = None,
    content_encoding: ContentEncoding = None,
    origin: Origin = None,
) -> IngestAccepted:
    """Events become occurrences of tickets, ``check_in`` items check in to monitors (a
    ``monitor_config`` upserts the monitor); other item types are accepted and skipped."""
    header_key, query_key = _header_key(x_sentry_auth, authorization), key_from_query(sentry_key)
    target: IngestTarget | None = None
    if header_key is not None or query_key is not None:
        # Refuse a stranger before reading (and decompressing) anything it sent.
        public_key = agreed_key(project_id=project_id, header=header_key, query=query_key, dsn=None)
        target = await _admit_before_reading(
            request, session, guard, project_id=project_id, public_key=public_key, origin=origin
        )
    reader = EnvelopeReader()
    await read_body(
        request.stream(),
        content_encoding=content_encoding,
        reader=reader,
        max_body_bytes=DEFAULT_LIMITS.max_envelope_bytes,
    )
    envelope = reader.finish()
    public_key = agreed_key(
        project_id=project_id,
        header=header_key,
        query=query_key,
        dsn=envelope.headers.get("dsn"),
    )
    if target is None:
        target = await _admit(
            request, session, guard, project_id=project_id, public_key=public_key, origin=origin
        )
    events = [item.payload for item in envelope.of_type(EVENT_ITEM) if item.payload is not None]
    check_ins = [
        sentry_checkins.read_check_in(item.payload)
        for item in envelope.of_type(CHECK_IN_ITEM)
        if item.payload is not None
    ]
    if check_ins:
        # In the events' transaction: the envelope is stored whole or not at all.
        await sentry_checkins.record_check_ins(
            session,
            client_id=target.client_id,
            check_ins=check_ins,
            now=utc_now(),
            policy=settings.occurrence_policy,
        )
    event_id = await ingest.ingest_events(
        session,
        target=target,
        events=events,
        fallback_event_id=envelope.event_id,
        policy=settings.occurrence_policy,
        # With check-ins, the envelope's writes share one transaction.
        one_statement=None if check_ins else one_statement,
    )
    return IngestAccepted(id=event_id)


@router.post(
    "/{project_id}/store/",
    response_model=IngestAccepted,
    response_model_exclude_none=True,
    openapi_extra=_STORE_BODY,
)
async def store_event(
    project_id: ProjectId,
    request: Request,
    session: SessionDep,
    guard: IngestGuardDep,
    settings: SettingsDep,
    one_statement: OneStatementFilingDep,
    sentry_key: SentryKey = None,
    x_sentry_auth: XSentryAuth = None,
    authorization: Authorization = None,
    content_encoding: ContentEncoding = None,
    origin: Origin = None,
) -> IngestAccepted:
    """The legacy endpoint: one event per request, authenticated by header or query."""
    public_key = agreed_key(
        project_id=project_id,
        header=_header_key(x_sentry_auth, authorization),
        query=key_from_query(sentry_key),
        dsn=None,
    )
    target = await _admit_before_reading(
        request, session, guard, project_id=project_id, public_key=public_key, origin=origin
    )
    event = await read_event_body(request.stream(), content_encoding=content_encoding)
    event_id = await ingest.ingest_events(
        session,
        target=target,
        events=[event],
        fallback_event_id=None,
        policy=settings.occurrence_policy,
        one_statement=one_statement,
    )
    return IngestAccepted(id=event_id)


async def cron_check_in(
    project_id: ProjectId,
    monitor_slug: Annotated[str, Path(min_length=1, max_length=64)],
    sentry_key: Annotated[str, Path(max_length=64, description="The DSN's public key.")],
    session: SessionDep,
    guard: IngestGuardDep,
    request: Request,
    settings: SettingsDep,
    status: Annotated[str, Query(max_length=20)] = "ok",
    check_in_id: Annotated[str | None, Query(max_length=100)] = None,
    duration: Annotated[float | None, Query(ge=0, le=10**8, allow_inf_nan=False)] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Sentry Crons' HTTP form: ``curl …/cron/<slug>/<key>/?status=ok`` from a crontab line."""
    public_key = agreed_key(
        project_id=project_id, header=None, query=key_from_query(sentry_key), dsn=None
    )
    target = await _admit(
        request, session, guard, project_id=project_id, public_key=public_key, origin=None
    )
    check_in = sentry_checkins.read_check_in(
        {
            "monitor_slug": monitor_slug,
            "status": status,
            "check_in_id": check_in_id,
            "duration": duration,
            "environment": environment,
        }
    )
    applied = await sentry_checkins.record_check_ins(
        session,
        client_id=target.client_id,
        check_ins=[check_in],
        now=utc_now(),
        policy=settings.occurrence_policy,
    )
    if not applied:
        raise MonitorNotFoundError(f"This client has no monitor {monitor_slug!r}.")
    await session.commit()
    return Response(status_code=202)


for _method in ("GET", "POST"):
    router.add_api_route(
        "/{project_id}/cron/{monitor_slug}/{sentry_key}/",
        cron_check_in,
        methods=[_method],
        status_code=202,
        response_class=Response,
        operation_id=f"cron_check_in_{_method.lower()}",
    )


async def _preflight(project_id: int, origin: str | None, session: SessionDep) -> Response:
    allowed = await repository.project_origins(session, project_id=project_id)
    if allowed is None:
        raise ProjectNotFoundError("No project with that id.")
    if origin is None or not cors.origin_allowed(origin, allowed):
        raise OriginNotAllowedError("This project does not accept events from that origin.")
    return Response(status_code=204, headers=cors.preflight_headers(origin))


@router.options("/{project_id}/envelope/", status_code=204)
async def envelope_preflight(
    project_id: ProjectId, session: SessionDep, origin: Origin = None
) -> Response:
    """CORS preflight of browser SDKs: allowed when the project allows the origin."""
    return await _preflight(project_id, origin, session)


@router.options("/{project_id}/store/", status_code=204)
async def store_preflight(
    project_id: ProjectId, session: SessionDep, origin: Origin = None
) -> Response:
    """CORS preflight of the legacy endpoint."""
    return await _preflight(project_id, origin, session)
