"""A database or broker outage answers 503 + ``Retry-After``, logged once, on every service.

While Postgres restarts (or Kafka is away, for a request that needs it) a request fails
with a connection error from deep inside the driver. That is not a bug in the request: the
client should retry. :class:`LastResortMiddleware` catches whatever the problem handlers
did not (so Starlette's server-error middleware never re-raises it for the server to log a
second time) and answers:

- a dependency outage (:func:`outage_of`): 503 problem+json, type ``service-unavailable``,
  ``Retry-After``, one WARNING line naming the dependency and the error, no traceback;
- text Postgres cannot store (a NUL character, ``\\u0000``, in any string or JSON value
  reaching a query): 422 problem+json ``validation-failed``, nothing stored (the
  request's transaction failed), one INFO line; checked here, once for every route, rather
  than by a validator on every string field;
- anything else: 500 problem+json, one ERROR line with the traceback.
"""

from __future__ import annotations

from typing import Literal

import asyncpg
import structlog
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.problems import problem_response

logger = structlog.get_logger(__name__)

Dependency = Literal["database", "kafka"]

_DATABASE_OUTAGES: tuple[type[BaseException], ...] = (
    # The server refused, reset or did not answer the connection (raw from asyncpg's connect).
    ConnectionError,
    TimeoutError,
    # The connection broke mid-query, or the server is shutting down / starting up / full.
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    # SQLAlchemy's own words for the same: the pool could not hand out a connection.
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)
_KAFKA_OUTAGES: tuple[type[BaseException], ...] = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
)
_CHAIN_DEPTH = 6
# Postgres' "character not in repertoire" and "untranslatable character": a NUL in text or
# jsonb. The client's input, never our bug.
_UNSTORABLE_TEXT_STATES = frozenset({"22021", "22P05"})


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps (SQLAlchemy's ``orig``, then causes and contexts)."""
    found: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and len(found) < _CHAIN_DEPTH:
        found.append(seen)
        wrapped = getattr(seen, "orig", None)
        seen = wrapped if isinstance(wrapped, BaseException) else seen.__cause__ or seen.__context__
    return found


def is_unstorable_text(error: BaseException) -> bool:
    """The database refused text from the request (a NUL character)."""
    return any(getattr(link, "sqlstate", None) in _UNSTORABLE_TEXT_STATES for link in _chain(error))


def outage_of(error: BaseException) -> Dependency | None:
    """Which dependency is down when ``error`` (or what it wraps) says one is, else None."""
    for seen in _chain(error):
        if isinstance(seen, _KAFKA_OUTAGES):
            return "kafka"
        if isinstance(seen, _DATABASE_OUTAGES):
            return "database"
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return "database"
    return None


class LastResortMiddleware:
    """Answers the exceptions nothing else answered: 503 for an outage, else 500, logged once.

    Installed innermost among the platform's middleware, so metrics and tracing see the
    answer as any other response.
    """

    def __init__(self, app: ASGIApp, *, retry_after_seconds: int) -> None:
        self.app = app
        self._retry_after = str(retry_after_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise  # half an answer is out: nothing sensible can follow it
            path = scope.get("path", "")
            dependency = outage_of(error)
            if dependency is None and is_unstorable_text(error):
                logger.info("refused unstorable text", path=path)
                response = problem_response(
                    422,
                    "The request holds a NUL character (\\u0000), which no text can store.",
                    instance=path,
                    problem_type=PROBLEM_BASE_URI + "validation-failed",
                    title="Validation failed",
                    errors=[
                        {"location": "body", "message": "NUL character", "kind": "nul_character"}
                    ],
                )
            elif dependency is None:
                logger.exception("unhandled error", path=path)
                response = problem_response(
                    500, "An unexpected error occurred; it has been logged.", instance=path
                )
            else:
                logger.warning(
                    "dependency unavailable",
                    dependency=dependency,
                    path=path,
                    error=f"{type(error).__name__}: {error}",
                )
                response = problem_response(
                    503,
                    f"The {dependency} is unavailable for the moment; retry after "
                    f"{self._retry_after} s.",
                    instance=path,
                    problem_type=PROBLEM_BASE_URI + "service-unavailable",
                    title="Service unavailable",
                    headers={"Retry-After": self._retry_after},
                    dependency=dependency,
                )
            await response(scope, receive, send)
