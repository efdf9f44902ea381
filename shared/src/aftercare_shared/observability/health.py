"""``/healthz`` (the process lives) and ``/readyz`` (it can reach Postgres and Kafka).

Both answer anyone (load balancers and orchestrators probe without credentials), so an
unauthenticated ``/readyz`` says only which dependency is unavailable; the error text
(addresses, driver messages) goes to the log and to a caller with a staff credential.
"""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaClient
from fastapi import APIRouter, Request
from starlette.responses import Response

from aftercare_shared.problems import problem_response

CHECK_TIMEOUT_SECONDS = 3.0
UNAVAILABLE = "unavailable"

logger = structlog.get_logger(__name__)


class KafkaProbe:
    """Bootstraps a throwaway client: proves a broker answers Kafka requests, not just TCP."""

    def __init__(self, bootstrap_servers: str, *, cache_seconds: float = 2.0) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._cache_seconds = cache_seconds
        self._checked_at = 0.0
        self._last_error: str | None = "not checked yet"

    async def check(self) -> str | None:
        """None when Kafka answers, else why not."""
        if time.monotonic() - self._checked_at < self._cache_seconds:
            return self._last_error
        client = AIOKafkaClient(bootstrap_servers=self._bootstrap_servers, request_timeout_ms=2000)
        try:
            await asyncio.wait_for(client.bootstrap(), CHECK_TIMEOUT_SECONDS)
            self._last_error = None
        except Exception as error:  # any failure means "not ready"; the reason is reported
            self._last_error = f"{type(error).__name__}: {error}"
        finally:
            await client.close()
        self._checked_at = time.monotonic()
        return self._last_error


def _redacted(check: str) -> str:
    return check if check == "ok" else UNAVAILABLE


def _caller_is_staff(request: Request) -> bool:
    """A staff credential, judged by its signature alone: the database may be the one down,
    so revocation cannot be asked (a revoked token sees error text, never data)."""
    authenticator = getattr(request.app.state, "authenticator", None)
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    token = token.strip()
    if authenticator is None or scheme.lower() != "bearer" or not token:
        return False
    staff_tokens = authenticator.staff_tokens
    return bool(staff_tokens.is_admin_token(token) or staff_tokens.verify(token) is not None)


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz(request: Request) -> Response | dict[str, object]:
        checks: dict[str, str] = {}
        try:
            async with request.app.state.engine.connect() as connection:
                await asyncio.wait_for(
                    connection.execute(sa.text("SELECT 1")), CHECK_TIMEOUT_SECONDS
                )
            checks["database"] = "ok"
        except Exception as error:  # report, don't raise: readiness is an answer, not a crash
            checks["database"] = f"{type(error).__name__}: {error}"
        kafka_error = await request.app.state.kafka_probe.check()
        checks["kafka"] = kafka_error or "ok"
        if all(value == "ok" for value in checks.values()):
            return {"status": "ready", "checks": checks}
        logger.warning("not ready", **checks)
        if not _caller_is_staff(request):
            checks = {name: _redacted(value) for name, value in checks.items()}
        return problem_response(
            503, "A dependency is not reachable.", instance="/readyz", checks=checks
        )

    return router
