"""``POST /v1/reports`` in two statements: the hot path of crash storms.

Why it exists: intake is where client systems' crash storms land, so a report must cost
little more than the insert it is. The ordinary route (``api/reports.py``) pays for it in
round trips and Python: the key lookup, two rate-limit takes each committed on its own,
the occurrence statement, the outbox insert and the commit, each through the ORM session,
plus FastAPI's dependency solving — profiled at ~10 ms of CPU per report against 0.7 ms
for a bare FastAPI app doing one asyncpg ``INSERT``.

This path does the same work in one statement, usually, on the pool's raw asyncpg
connection (each statement prepared once per connection by asyncpg's statement cache), in
autocommit:

1. only when this process has no token left of the key's two rate-limit buckets: the
   key, re-checked live by id, and a lease of tokens from both buckets (a few at once,
   spent by the next reports in process: :mod:`aftercare_intake.report_token_leases`),
   committed on their own as the route commits its takes;
2. the report's occurrence filed in one statement
   (:mod:`aftercare_intake.one_statement_filing`: the key re-checked live by id, so a
   revoked key is refused at once and files nothing — only the immutable
   ``key hash → (key id, client)`` mapping is cached in process —, the occurrence and,
   for a new fingerprint, its ``ticket.created`` outbox row), committed before the
   answer is sent, so nothing acknowledged is lost.

What it leaves to the ordinary code, which stays the reference for behaviour:

- to the route, body intact: a request without ``Authorization: Bearer ak_…``, with an
  ``Idempotency-Key``, not ``application/json``, whose body is not a valid report (422),
  or whose key is unknown, expired or revoked (401);
- to the route's use case (``use_cases.submit_report``, after the checks above): a report
  statement 2 declines — one that joins a ticket whose count must be
  announced now (``ticket.occurred``), a finished ticket (maybe a regression), or a ticket
  a concurrent report created after the statement's snapshot. Declining aborts statement
  2 whole, so the use case starts afresh.

Its answers are the route's, byte for byte, and
``tests/integration/intake/test_intake_report_fast_path.py`` checks both paths against
each other; ``aftercare_intake_report_fast_path_total`` counts which path answered.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from aftercare_intake import use_cases
from aftercare_intake.api.dependencies import ReportRateLimiter
from aftercare_intake.api.schemas import ReportCreate
from aftercare_intake.models import SCHEMA
from aftercare_intake.one_statement_filing import (
    KEY_NOT_LIVE,
    CompiledStatement,
    FiledAlone,
    OneStatementFiling,
)
from aftercare_intake.report_token_leases import (
    KEY_GONE,
    TAKE_STATEMENT,
    Bucket,
    Refused,
    TokenLeases,
    take_leased,
)
from aftercare_intake.settings import IntakeSettings
from aftercare_intake.use_cases import occurrence_from_report
from aftercare_shared.auth.api_keys import hash_api_key, looks_like_api_key
from aftercare_shared.auth.authenticator import Authenticator
from aftercare_shared.clock import utc_now
from aftercare_shared.rate_limit import RateLimiter

REPORTS_PATH = "/v1/reports"

_KEY_CACHE_SIZE = 4096

HandedOn = Literal["request", "invalid_body", "unknown_key"]
"""Why the ordinary route takes a request: its headers or credential are not a client
key's plain report, its body is not a valid report, or its key is not a live one."""

REPORT_PATHS = Counter(
    "aftercare_intake_report_fast_path_total",
    "POST /v1/reports by outcome: answered (or rate_limited) by the fast path, declined by "
    "its statement and filed by the ordinary use case, or handed to the ordinary route and "
    "why (request, invalid_body, unknown_key)",
    ["outcome"],
)

_LIVE_KEY = f"""
    SELECT id, client_id FROM {SCHEMA}.api_keys
    WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
"""  # noqa: S608 - formats in the schema only


@dataclass(frozen=True, slots=True)
class _Key:
    key_hash: str
    api_key_id: str
    client_id: str


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


class FastReportPath:
    """The ASGI app of ``POST /v1/reports``: the fast path, else ``ordinary``."""

    def __init__(self, ordinary: APIRoute) -> None:
        self._ordinary = ordinary
        self._keys: dict[str, _Key] = {}
        self._take: CompiledStatement | None = None
        self._leases = TokenLeases()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Metrics label requests by the matched route: the documented one.
        scope["route"] = self._ordinary
        scope["endpoint"] = self._ordinary.endpoint
        body = await _read_body(receive)
        answer = await self._try(scope, body)
        if isinstance(answer, str):
            REPORT_PATHS.labels(answer).inc()
            await self._ordinary.app(scope, _replay(body, receive), send)
            return
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        )
        await send({"type": "http.response.body", "body": answer.body})

    async def _try(self, scope: Scope, body: bytes) -> _Answer | HandedOn:
        """The answer, or why the ordinary route must take the request."""
        headers = _headers(scope)
        if b"idempotency-key" in headers or not headers.get(b"content-type", b"").startswith(
            b"application/json"
        ):
            return "request"
        app: FastAPI = scope["app"]
        token = _bearer_token(headers.get(b"authorization"))
        authenticator: Authenticator = app.state.authenticator
        if (
            token is None
            or not looks_like_api_key(token)
            or authenticator.staff_tokens.is_admin_token(token)
        ):
            return "request"
        try:
            report = ReportCreate.model_validate_json(body)
        except ValidationError:
            return "invalid_body"
        engine: AsyncEngine = app.state.engine
        if self._take is None:
            self._take = CompiledStatement(TAKE_STATEMENT, engine)
        take = self._take
        one_statement: OneStatementFiling = app.state.provided[OneStatementFiling]
        settings: IntakeSettings = app.state.provided[IntakeSettings]
        client_limiter: RateLimiter = app.state.client_rate_limiter
        report_limiter: ReportRateLimiter = app.state.provided[ReportRateLimiter]
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            key = await self._key(driver, hash_api_key(token))
            if key is None:
                return "unknown_key"
            client_bucket = Bucket.of(client_limiter, key.api_key_id)
            report_bucket = Bucket.of(report_limiter, key.api_key_id)
            taken = await take_leased(
                self._leases,
                functools.partial(take.fetchrow, driver),  # in autocommit: committed alone
                api_key_id=key.api_key_id,
                first=client_bucket,
                second=report_bucket,
                now=utc_now(),
            )
            if taken == KEY_GONE:
                self._forget(key, client_bucket, report_bucket)
                return "unknown_key"  # revoked or expired since it was cached: the route's 401
            if isinstance(taken, Refused):
                # Refused one token as the route would be: its 429.
                REPORT_PATHS.labels("rate_limited").inc()
                raise taken.bucket.limiter.limited(taken.retry_after)
            filed = await one_statement.file(
                engine,
                driver,
                client_id=key.client_id,
                api_key_id=key.api_key_id,
                occurrence=occurrence_from_report(report),
                policy=settings.occurrence_policy,
            )
            if filed == KEY_NOT_LIVE:
                self._forget(key, client_bucket, report_bucket)
                return "unknown_key"  # revoked since its tokens were leased: the route's 401
        if filed is None:
            # Declined: filed by the ordinary use case, as the route would after its
            # checks (the key and both tokens are taken already, so not by the route).
            REPORT_PATHS.labels("declined").inc()
            async with app.state.session_factory() as session:
                outcome = await use_cases.submit_report(
                    session,
                    client_id=key.client_id,
                    report=report,
                    idempotency_key=None,
                    idempotency_ttl=settings.idempotency_ttl,
                    policy=settings.occurrence_policy,
                )
            return _answer(outcome.status_code, outcome.body)
        assert isinstance(filed, FiledAlone)
        REPORT_PATHS.labels("answered").inc()
        return _answer(
            201 if filed.created else 200,
            {
                "ticket_id": filed.ticket_id,
                "status": filed.status,
                "priority": filed.priority,
                "occurrences": filed.occurrences,
                "deduplicated": not filed.created,
            },
        )

    def _forget(self, key: _Key, *buckets: Bucket) -> None:
        """The key is revoked or expired: forget it and its leased tokens."""
        self._keys.pop(key.key_hash, None)
        self._leases.forget(*(bucket.key for bucket in buckets))

    async def _key(self, connection: asyncpg.Connection, key_hash: str) -> _Key | None:
        key = self._keys.get(key_hash)
        if key is None:
            row = await connection.fetchrow(_LIVE_KEY, key_hash, utc_now())
            if row is None:
                return None
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            key = _Key(key_hash=key_hash, api_key_id=row["id"], client_id=row["client_id"])
            self._keys[key_hash] = key
        return key


def _answer(status: int, body: dict[str, Any]) -> _Answer:
    """What the route answers (``ReportAccepted``, with the ticket's Location)."""
    return _Answer(
        status=status,
        body=orjson.dumps(body),
        headers=[
            (b"content-type", b"application/json"),
            (b"location", f"/v1/tickets/{body['ticket_id']}".encode()),
        ],
    )


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def _bearer_token(authorization: bytes | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """``receive`` for the ordinary route: the body already read, then the client's own."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def install(router: APIRouter) -> None:
    """Put the fast path in front of ``router``'s ``POST /v1/reports`` route, which keeps
    the OpenAPI document and answers whatever the fast path hands it."""
    for index, route in enumerate(router.routes):
        if (
            isinstance(route, APIRoute)
            and route.path == REPORTS_PATH
            and "POST" in (route.methods or ())
        ):
            router.routes.insert(
                index,
                Route(
                    REPORTS_PATH,
                    FastReportPath(route),
                    methods=["POST"],
                    include_in_schema=False,
                ),
            )
            return
    raise LookupError(f"no POST {REPORTS_PATH} route to put the fast path in front of")
