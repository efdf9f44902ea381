"""``POST /v1/reports`` in one SQL statement: the hot path of crash storms.

Why it exists: intake is where client systems' crash storms land, so a report must cost
little more than the insert it is. The ordinary route (``api/reports.py``) pays for it in
round trips and Python: the key lookup, two rate-limit takes each committed on its own,
the occurrence statement, the outbox insert and the commit, each through the ORM session,
plus FastAPI's dependency solving. Profiled, that was ~8x the CPU of a bare FastAPI app
doing one asyncpg ``INSERT``.

This path does the same work in **one statement**, run on the pool's raw asyncpg
connection (prepared once per connection by asyncpg's statement cache) in autocommit, so
the ticket (or occurrence), its outbox row and the rate-limit takes commit together before
the answer is sent. The key is re-checked inside the statement (live, by id), so a revoked
key is refused at once; only the immutable ``key hash → (key id, client)`` mapping is
cached in process.

It covers the common case only and hands everything else, body intact, to the ordinary
route, which stays the reference for behaviour:

- no ``Authorization: Bearer ak_…`` client key, an unknown, expired or revoked key
  (the route answers 401), or an ``Idempotency-Key`` header;
- a body that is not ``application/json`` or not a valid report (the route answers 422);
- a report the statement itself declines (:data:`DEFERRED`): one that joins a ticket whose
  count must be announced now (``ticket.occurred``), a finished ticket (a possible
  regression), or a ticket a concurrent report created after the statement's snapshot.
  Declining aborts the statement, so nothing of it is kept and the route starts afresh.

The statement is built from the same pieces as the ordinary path (the occurrence CTEs of
:mod:`aftercare_intake.occurrence_store`, the token bucket of
:mod:`aftercare_shared.rate_limit`), the ticket and the ``ticket.created`` event from the
same functions of :mod:`aftercare_intake.filing`, and its answers are the route's, byte
for byte (``tests/integration/intake/test_intake_report_fast_path.py`` checks both paths
against each other).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from aftercare_intake import domain, filing, occurrence_store
from aftercare_intake.api.dependencies import ReportRateLimiter
from aftercare_intake.api.schemas import ReportCreate
from aftercare_intake.models import SCHEMA
from aftercare_intake.settings import IntakeSettings
from aftercare_intake.use_cases import occurrence_from_report
from aftercare_shared.auth.api_keys import hash_api_key, looks_like_api_key
from aftercare_shared.auth.authenticator import Authenticator
from aftercare_shared.clock import utc_now
from aftercare_shared.events.envelope import CloudEvent
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outages import outage_of
from aftercare_shared.outbox import outbox_notify_channel, record_headers
from aftercare_shared.rate_limit import RateLimiter, refill_and_take_sql
from aftercare_shared.topics import topic_for_event_type

REPORTS_PATH = "/v1/reports"

DEFERRED = "report-deferred-to-the-ordinary-route"
"""The statement declines a report by failing on purpose with this text (see below)."""

_KEY_CACHE_SIZE = 4096

HandedOn = Literal["request", "invalid_body", "unknown_key", "declined"]
"""Why the ordinary route takes a report: the headers or credential are not a client
key's plain report, the body is not a valid report, the key is not a live one, or the
statement declined it."""

REPORT_PATHS = Counter(
    "aftercare_intake_report_fast_path_total",
    "POST /v1/reports by outcome: answered (or rate_limited) by the one-statement fast "
    "path, or handed on to the ordinary route and why",
    ["outcome"],
)

_FINISHED = ", ".join(f"'{status}'" for status in sorted(domain.FINISHED_STATUSES))


def relay_wakeup_sql() -> str:
    """How the statement wakes the outbox relay once its row commits: a NOTIFY selected
    from the outbox insert, delivered by Postgres at commit (as ``enqueue_event`` does).

    The one place the fast path wakes the relay, so another wake-up (an in-process signal
    after the statement) replaces this function alone.
    """
    channel = outbox_notify_channel(SCHEMA)
    return f"(SELECT count(pg_notify('{channel}', '')) FROM queued)"  # noqa: S608 - a constant


# One statement: check the key is live, take the client's and the report buckets' tokens
# (each only if the step before allowed it), count the occurrence (route … tallies, only
# when admitted), queue ``ticket.created`` when the fingerprint was new, wake the relay.
#
# Declining: a report the ordinary route must file (see the module docstring) makes the
# CASE below yield the DEFERRED text, whose cast to integer fails at run time; the whole
# statement, rate-limit takes included, is then rolled back. (The CASE's condition reads
# the CTEs, so the planner cannot fold the cast away.)
_FAST_REPORT = text(
    f"""
    WITH live_key AS (
        SELECT api_key.id FROM {SCHEMA}.api_keys AS api_key
        WHERE api_key.id = :api_key_id AND api_key.revoked_at IS NULL
          AND (api_key.expires_at IS NULL OR api_key.expires_at > {occurrence_store.NOW})
    ),
    client_take AS ({
        refill_and_take_sql(
            SCHEMA,
            key=":client_bucket",
            burst=":client_burst",
            rate=":client_rate",
            gate="live_key",
        )
    }),
    report_take AS ({
        refill_and_take_sql(
            SCHEMA,
            key=":report_bucket",
            burst=":report_burst",
            rate=":report_rate",
            gate="client_take WHERE client_take.allowed",
        )
    }),
    admitted AS (SELECT 1 FROM report_take WHERE report_take.allowed),
    {occurrence_store.record_ctes(admitted_by="admitted")},
    queued AS (
        INSERT INTO {SCHEMA}.outbox (event_id, topic, record_key, payload, headers)
        SELECT :outbox_event_id, :outbox_topic, route.ticket_id, :outbox_payload,
               CAST(:outbox_headers AS jsonb)
        FROM route WHERE route.created
        RETURNING id
    )
    SELECT live_key.id IS NOT NULL AS key_live,
        client_take.allowed AS client_allowed, client_take.tokens AS client_tokens,
        report_take.allowed AS report_allowed, report_take.tokens AS report_tokens,
        route.ticket_id, route.created, counted.status, counted.priority,
        counted.occurrences, {relay_wakeup_sql()} AS woken,
        CAST(CASE WHEN NOT route.created AND (
                counted.id IS NULL
                OR counted.occurrences_announced = counted.occurrences
                OR (counted.status IN ({_FINISHED}) AND counted.close_reason IS NULL))
            THEN '{DEFERRED}' ELSE '0' END AS integer) AS deferred
    FROM (SELECT 1) AS one
    LEFT JOIN live_key ON true
    LEFT JOIN client_take ON true
    LEFT JOIN report_take ON true
    LEFT JOIN route ON true
    LEFT JOIN counted ON true
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


class _Statement:
    """:data:`_FAST_REPORT` compiled once for asyncpg: its SQL and its parameters' order."""

    def __init__(self, engine: AsyncEngine) -> None:
        compiled = _FAST_REPORT.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.names = list(compiled.positiontup or [])

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        return [parameters[name] for name in self.names]


class FastReportPath:
    """The ASGI app of ``POST /v1/reports``: the one-statement path, else ``ordinary``."""

    def __init__(self, ordinary: APIRoute) -> None:
        self._ordinary = ordinary
        self._keys: dict[str, _Key] = {}
        self._statement: _Statement | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Metrics label requests by the matched route: the documented one.
        scope["route"] = self._ordinary
        scope["endpoint"] = self._ordinary.endpoint
        body = await _read_body(receive)
        answer = await self._try(scope, body)
        REPORT_PATHS.labels(answer if isinstance(answer, str) else "answered").inc()
        if isinstance(answer, str):
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
        if self._statement is None:
            self._statement = _Statement(engine)
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            key = await self._key(driver, hash_api_key(token))
            if key is None:
                return "unknown_key"
            return await self._file(app, driver, self._statement, key, report)

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

    async def _file(
        self,
        app: FastAPI,
        connection: asyncpg.Connection,
        statement: _Statement,
        key: _Key,
        report: ReportCreate,
    ) -> _Answer | HandedOn:
        settings: IntakeSettings = app.state.provided[IntakeSettings]
        client_limiter: RateLimiter = app.state.client_rate_limiter
        report_limiter: ReportRateLimiter = app.state.provided[ReportRateLimiter]
        policy = settings.occurrence_policy
        occurrence = occurrence_from_report(report)
        priority = domain.priority_for(occurrence.severity)
        now = utc_now()
        ticket_id = filing.new_id()
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
            "client_bucket": client_limiter.bucket_key(key.api_key_id),
            "client_burst": client_limiter.burst,
            "client_rate": client_limiter.rate_per_second,
            "report_bucket": report_limiter.bucket_key(key.api_key_id),
            "report_burst": report_limiter.burst,
            "report_rate": report_limiter.rate_per_second,
            **_outbox_parameters(event),
        }
        try:
            row = await connection.fetchrow(statement.sql, *statement.arguments(parameters))
        except asyncpg.PostgresError as error:
            if outage_of(error) is not None:
                raise  # the platform's answer to an outage (503), as on every route
            return "declined"  # (DEFERRED), or text the database refuses: the route answers
        assert row is not None
        if not row["key_live"]:
            self._keys.pop(key.key_hash, None)
            return "unknown_key"  # revoked or expired since it was cached: the route's 401
        if not row["client_allowed"]:
            REPORT_PATHS.labels("rate_limited").inc()
            raise client_limiter.limited(client_limiter.retry_after_tokens(row["client_tokens"]))
        if not row["report_allowed"]:
            REPORT_PATHS.labels("rate_limited").inc()
            raise report_limiter.limited(report_limiter.retry_after_tokens(row["report_tokens"]))
        created: bool = row["created"]
        answer = {
            "ticket_id": row["ticket_id"],
            "status": domain.NEW_STATUS if created else row["status"],
            "priority": priority if created else row["priority"],
            "occurrences": 1 if created else row["occurrences"],
            "deduplicated": not created,
        }
        return _Answer(
            status=201 if created else 200,
            body=orjson.dumps(answer),
            headers=[
                (b"content-type", b"application/json"),
                (b"location", f"/v1/tickets/{row['ticket_id']}".encode()),
            ],
        )


def _outbox_parameters(event: CloudEvent) -> dict[str, Any]:
    return {
        "outbox_event_id": event.id,
        "outbox_topic": topic_for_event_type(event.type),
        "outbox_payload": event.to_json_bytes(),
        "outbox_headers": orjson.dumps(record_headers(event)).decode(),
    }


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
