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
2. the key, re-checked live by id (a revoked key is refused at once and files nothing;
   only the immutable ``key hash → (key id, client)`` mapping is cached in process), the
   occurrence (the very CTEs of :mod:`aftercare_intake.occurrence_store`) and, when the
   fingerprint is new, its ``ticket.created`` outbox row (the event built by
   :mod:`aftercare_intake.filing`'s function, serialised once): committed together
   before the answer is sent, so nothing acknowledged is lost.

What it leaves to the ordinary code, which stays the reference for behaviour:

- to the route, body intact: a request without ``Authorization: Bearer ak_…``, with an
  ``Idempotency-Key``, not ``application/json``, whose body is not a valid report (422),
  or whose key is unknown, expired or revoked (401);
- to the route's use case (``use_cases.submit_report``, after the checks above): a report
  statement 2 declines (:data:`DEFERRED`) — one that joins a ticket whose count must be
  announced now (``ticket.occurred``), a finished ticket (maybe a regression), or a ticket
  a concurrent report created after the statement's snapshot. Declining aborts statement
  2 whole, so the use case starts afresh.

Its answers are the route's, byte for byte, and
``tests/integration/intake/test_intake_report_fast_path.py`` checks both paths against
each other; ``aftercare_intake_report_fast_path_total`` counts which path answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import asyncpg
import orjson
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from aftercare_intake import domain, filing, occurrence_store, use_cases
from aftercare_intake.api.dependencies import ReportRateLimiter
from aftercare_intake.api.schemas import ReportCreate
from aftercare_intake.models import SCHEMA
from aftercare_intake.report_token_leases import (
    KEY_GONE,
    TAKE_STATEMENT,
    Bucket,
    Refused,
    RunTake,
    TokenLeases,
    take_leased,
)
from aftercare_intake.settings import IntakeSettings
from aftercare_intake.use_cases import occurrence_from_report
from aftercare_shared.auth.api_keys import hash_api_key, looks_like_api_key
from aftercare_shared.auth.authenticator import Authenticator
from aftercare_shared.clock import utc_now
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outages import outage_of
from aftercare_shared.outbox import outbox_notify_channel, record_headers, wake
from aftercare_shared.rate_limit import RateLimiter
from aftercare_shared.topics import topic_for_event_type

REPORTS_PATH = "/v1/reports"

DEFERRED = "report-deferred-to-the-ordinary-route"
"""The statement declines a report by failing on purpose with this text (see below)."""

KEY_NOT_LIVE: Final = "report-key-not-live"
"""…and refuses a key revoked or expired since its tokens were leased with this one."""

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

_FINISHED = ", ".join(f"'{status}'" for status in sorted(domain.FINISHED_STATUSES))


def relay_wakeup_sql(*, notify: bool) -> str:
    """The statement's part in waking the outbox relay (see ``aftercare_shared.outbox.wake``):
    a NOTIFY selected from the outbox insert, delivered by Postgres at commit, only when
    this process's relay does not lead (``notify``); else nothing, and the caller wakes the
    local relay after the commit (:func:`_file_in_one_statement`)."""
    if not notify:
        return "0"
    channel = outbox_notify_channel(SCHEMA)
    return f"(SELECT count(pg_notify('{channel}', '')) FROM queued)"  # noqa: S608 - a constant


# The report: count the occurrence (the ordinary path's CTEs), queue ``ticket.created``
# when the fingerprint was new, wake the relay; one statement, committed (synchronously)
# before the answer.
#
# Declining: a report the ordinary use case must file (see the module docstring) makes
# the CASE below yield the DEFERRED text, whose cast to integer fails at run time, and
# the statement is rolled back whole. (The CASE's condition reads the CTEs, so the
# planner cannot fold the cast away.) A key revoked or expired yields KEY_NOT_LIVE the
# same way: its tokens may have been leased before (report_token_leases), so the key is
# checked here, in the statement that files, and a revoked key files nothing.
def _file_statement(*, notify: bool) -> TextClause:
    return text(
        f"""
    WITH {occurrence_store.record_ctes()},
    queued AS (
        INSERT INTO {SCHEMA}.outbox (event_id, topic, record_key, payload, headers)
        SELECT :outbox_event_id, :outbox_topic, route.ticket_id, :outbox_payload,
               CAST(:outbox_headers AS jsonb)
        FROM route WHERE route.created
        RETURNING id
    )
    SELECT route.ticket_id, route.created, counted.status, counted.priority,
        counted.occurrences, {relay_wakeup_sql(notify=notify)} AS woken,
        CAST(CASE WHEN NOT EXISTS (
                SELECT FROM {SCHEMA}.api_keys AS api_key
                WHERE api_key.id = :api_key_id AND api_key.revoked_at IS NULL
                  AND (api_key.expires_at IS NULL OR api_key.expires_at > {occurrence_store.NOW}))
            THEN '{KEY_NOT_LIVE}'
            WHEN NOT route.created AND (
                counted.id IS NULL
                OR counted.occurrences_announced = counted.occurrences
                OR (counted.status IN ({_FINISHED}) AND counted.close_reason IS NULL))
            THEN '{DEFERRED}' ELSE '0' END AS integer) AS deferred
    FROM route LEFT JOIN counted ON true
    """  # noqa: S608 - formats in constants only (schema, statuses, CTEs)
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


class _Compiled:
    """A statement compiled once for asyncpg: its SQL and its parameters' order."""

    def __init__(self, statement: TextClause, engine: AsyncEngine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.names = list(compiled.positiontup or [])

    async def fetchrow(
        self, connection: asyncpg.Connection, parameters: dict[str, Any]
    ) -> asyncpg.Record:
        # asyncpg prepares it once per connection (its statement cache) and reuses it.
        row = await connection.fetchrow(self.sql, *[parameters[name] for name in self.names])
        assert row is not None  # every statement here returns one row
        return row

    def run_on(self, connection: asyncpg.Connection) -> RunTake:
        """This statement as token leases run it: in autocommit, on ``connection``."""

        async def run(parameters: dict[str, Any]) -> asyncpg.Record:
            return await self.fetchrow(connection, parameters)

        return run


class FastReportPath:
    """The ASGI app of ``POST /v1/reports``: the fast path, else ``ordinary``."""

    def __init__(self, ordinary: APIRoute) -> None:
        self._ordinary = ordinary
        self._keys: dict[str, _Key] = {}
        self._statements: tuple[_Compiled, _Compiled, _Compiled] | None = None
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
        if self._statements is None:
            self._statements = (
                _Compiled(TAKE_STATEMENT, engine),
                _Compiled(_file_statement(notify=True), engine),
                _Compiled(_file_statement(notify=False), engine),
            )
        take, file_notifying, file_quiet = self._statements
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
                take.run_on(driver),
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
            notify = wake.notify_needed(SCHEMA)
            file = file_notifying if notify else file_quiet
            answer = await _file_in_one_statement(driver, file, settings, key, report)
            if isinstance(answer, str):  # KEY_NOT_LIVE
                self._forget(key, client_bucket, report_bucket)
                return "unknown_key"  # revoked since its tokens were leased: the route's 401
            if isinstance(answer, _Answer) and answer.status == 201 and not notify:
                wake.committed(SCHEMA)  # its ticket.created row is in the outbox now
        if answer is None:
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
        REPORT_PATHS.labels("answered").inc()
        return answer

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


async def _file_in_one_statement(
    connection: asyncpg.Connection,
    file: _Compiled,
    settings: IntakeSettings,
    key: _Key,
    report: ReportCreate,
) -> _Answer | Literal["report-key-not-live"] | None:
    """The answer once the report is committed; None when the statement declined it,
    KEY_NOT_LIVE when it refused the key."""
    policy = settings.occurrence_policy
    occurrence = occurrence_from_report(report)
    priority = domain.priority_for(occurrence.severity)
    now = utc_now()
    ticket_id = filing.new_id()
    # Built (and serialised, once) before we know the fingerprint is new: the statement
    # inserts it only when it is.
    event = new_event(
        filing.ticket_created(
            client_id=key.client_id,
            ticket_id=ticket_id,
            occurrence=occurrence,
            priority=priority,
            now=now,
        ),
        service=ServiceName.INTAKE,
        subject=ticket_id,
        client_id=key.client_id,
    )
    parameters = {
        **occurrence_store.record_parameters(
            client_id=key.client_id,
            fingerprint=occurrence.fingerprint,
            new_ticket=filing.new_ticket_values(occurrence, priority),
            new_ticket_id=ticket_id,
            sample=filing.sample_of(occurrence),
            samples=policy.samples,
            now=now,
            announce_before=policy.announce_before(now),
        ),
        "api_key_id": key.api_key_id,
        "outbox_event_id": event.id,
        "outbox_topic": topic_for_event_type(event.type),
        "outbox_payload": event.to_json_bytes(),
        "outbox_headers": orjson.dumps(record_headers(event)).decode(),
    }
    try:
        row = await file.fetchrow(connection, parameters)
    except asyncpg.PostgresError as error:
        if outage_of(error) is not None:
            raise  # the platform's answer to an outage (503), as on every route
        if KEY_NOT_LIVE in str(error):
            return KEY_NOT_LIVE
        return None  # DEFERRED, or text the database refuses (the use case answers it)
    created: bool = row["created"]
    return _answer(
        201 if created else 200,
        {
            "ticket_id": row["ticket_id"],
            "status": domain.NEW_STATUS if created else row["status"],
            "priority": priority if created else row["priority"],
            "occurrences": 1 if created else row["occurrences"],
            "deduplicated": not created,
        },
    )


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
