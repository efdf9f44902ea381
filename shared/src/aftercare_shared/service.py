"""The one place a service's FastAPI app is assembled.

Every service gets the same middleware (trace, metrics, header and body limits), problem+json errors
(its own problem types registered once), health and metrics routes, and a lifespan that
owns the engine, the outbox relay, the one consumer runner (dispatching through the
service's handler registry), the periodic jobs and any other workers. Nothing is built at
import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare_shared.auth import Authenticator, StaffTokens
from aftercare_shared.auth.authenticator import ApiKeyLookup, StaffTokenRevocationCheck
from aftercare_shared.body_limit import BodySizeLimitMiddleware
from aftercare_shared.consumer import ConsumerRunner
from aftercare_shared.consumer.handlers import EventHandlers
from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.errors import ProblemTypes
from aftercare_shared.header_limit import HeaderSizeLimitMiddleware
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.observability.health import KafkaProbe, health_router
from aftercare_shared.observability.http_trace import TraceparentMiddleware
from aftercare_shared.observability.logging import configure_logging
from aftercare_shared.observability.metrics import MetricsMiddleware, metrics_endpoint
from aftercare_shared.outages import LastResortMiddleware
from aftercare_shared.outbox.purge import outbox_purge_job
from aftercare_shared.outbox.relay import OutboxRelay
from aftercare_shared.periodic import PeriodicJob, PeriodicWorker
from aftercare_shared.problems import document_platform_answers, install_problem_handlers
from aftercare_shared.rate_limit import RateLimiter
from aftercare_shared.secrets_at_rest import Keyring, install_keyring
from aftercare_shared.settings import CommonSettings
from aftercare_shared.workers import BackgroundWorker, WorkerSupervisor


@dataclass
class ServiceContext:
    """What a service's wiring code receives once the lifespan has built the engine."""

    service: ServiceName
    settings: CommonSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    extras: dict[str, object] = field(default_factory=dict)


READ_MODEL_LINGER_SECONDS = 0.05
"""How long a consumer whose events no person waits on gathers a batch after a poll.

intake, sla and releases keep read models, clocks (run from each event's own time) and
tickets from their events: 50 ms more changes nothing anyone sees and applies more
records per transaction and offset commit under a steady stream
(:mod:`aftercare_shared.consumer.polling`). notify's events are the ones people wait on:
it does not linger.
"""


@dataclass(frozen=True)
class ConsumerSpec:
    """The service's one consumer group: what it reads and the registry it dispatches to."""

    group_id: str
    topics: Sequence[str]
    handlers: EventHandlers
    linger_seconds: float = 0.0
    """Default of ``AFTERCARE_CONSUMER_LINGER_SECONDS`` for this service (see
    :data:`READ_MODEL_LINGER_SECONDS`)."""


def _no_workers(context: ServiceContext) -> Sequence[BackgroundWorker]:
    return ()


@dataclass(frozen=True)
class ServiceSpec:
    """Everything that makes one service: routes, errors, consumer, jobs and state."""

    service: ServiceName
    title: str
    description: str
    routers: Sequence[APIRouter]
    api_key_lookup: ApiKeyLookup
    staff_token_revoked: StaffTokenRevocationCheck
    """Whether a staff token was revoked: intake asks its own table, the others their
    read model (:mod:`aftercare_shared.staff_token_registry`)."""
    problem_types: ProblemTypes = field(default_factory=ProblemTypes)
    consumer: ConsumerSpec | None = None
    periodic_jobs: Sequence[PeriodicJob] = ()
    workers: Callable[[ServiceContext], Sequence[BackgroundWorker]] = _no_workers
    """Long-running workers other than the consumer and the periodic jobs."""
    provides: Sequence[object] = ()
    """Objects routes receive through :func:`provided` (settings, guards), one per type;
    the platform adds its :class:`StaffTokens`."""
    own_body_limit_prefixes: Sequence[str] = ()
    """Path prefixes whose routes read their bodies as streams and enforce their own size
    limits instead of ``AFTERCARE_MAX_BODY_BYTES`` (intake's ``/api/`` Sentry ingest)."""


ProvidedT = TypeVar("ProvidedT")


def provided(kind: type[ProvidedT]) -> Callable[[Request], ProvidedT]:
    """A dependency returning the object of type ``kind`` the ServiceSpec provides.

    Each service wraps it once in ``api/dependencies.py``
    (``SettingsDep = Annotated[IntakeSettings, Depends(provided(IntakeSettings))]``), so
    routes are typed and never touch ``app.state``.
    """

    def dependency(request: Request) -> ProvidedT:
        found = request.app.state.provided.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"the service provides no {kind.__name__}")
        return found

    dependency.__name__ = f"provided_{kind.__name__}"
    return dependency


def _background_workers(
    spec: ServiceSpec, settings: CommonSettings, context: ServiceContext
) -> list[BackgroundWorker]:
    workers: list[BackgroundWorker] = [
        OutboxRelay(
            engine=context.engine,
            schema=schema_of(spec.service),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            poll_interval=settings.outbox_poll_interval_seconds,
            batch_size=settings.outbox_batch_size,
        )
    ]
    if spec.consumer is not None:
        workers.append(
            ConsumerRunner(
                service=spec.service,
                group_id=spec.consumer.group_id,
                topics=list(spec.consumer.topics),
                bootstrap_servers=settings.kafka_bootstrap_servers,
                session_factory=context.session_factory,
                schema=schema_of(spec.service),
                handler=spec.consumer.handlers,
                max_attempts=settings.consumer_max_attempts,
                retry_backoff=settings.consumer_retry_backoff_seconds,
                max_batch_records=settings.consumer_max_batch_records,
                linger=(
                    spec.consumer.linger_seconds
                    if settings.consumer_linger_seconds is None
                    else settings.consumer_linger_seconds
                ),
            )
        )
    purge = outbox_purge_job(
        schema_of(spec.service), retention=timedelta(seconds=settings.outbox_retention_seconds)
    )
    workers.extend(
        PeriodicWorker(job, context.session_factory) for job in (purge, *spec.periodic_jobs)
    )
    workers.extend(spec.workers(context))
    return workers


def create_service_app(spec: ServiceSpec, settings: CommonSettings) -> FastAPI:
    configure_logging(
        service=spec.service, level=settings.log_level, log_format=settings.log_format
    )

    # One verifier (and minter) of staff tokens, so a token intake mints is one every
    # service accepts; routes that mint take it as a provided object.
    staff_tokens = StaffTokens(
        admin_token=settings.admin_token.get_secret_value(),
        signing_key=settings.token_signing_key.get_secret_value()
        if settings.token_signing_key
        else None,
    )

    # Stored credentials (EncryptedText columns) are sealed and opened with this keyring.
    install_keyring(
        Keyring.from_settings(
            secret_keys=settings.secret_keys.get_secret_value() if settings.secret_keys else None,
            admin_token=settings.admin_token.get_secret_value(),
        )
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            application_name=f"aftercare-{spec.service}",
        )
        context = ServiceContext(
            service=spec.service,
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
        )
        app.state.engine = engine
        app.state.session_factory = context.session_factory
        app.state.kafka_probe = KafkaProbe(settings.kafka_bootstrap_servers)
        app.state.authenticator = Authenticator(
            staff_tokens=staff_tokens,
            api_key_lookup=spec.api_key_lookup,
            staff_token_revoked=spec.staff_token_revoked,
        )
        supervisor = WorkerSupervisor(_background_workers(spec, settings, context))
        supervisor.start()
        try:
            yield
        finally:
            # Drain background work before the engine goes away under it.
            await supervisor.stop()
            await engine.dispose()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.client_rate_limiter = RateLimiter(
        schema=schema_of(spec.service),
        name="client",
        rate_per_second=settings.client_rate_per_second,
        burst=settings.client_rate_burst,
    )
    app.state.provided = {
        StaffTokens: staff_tokens,
        **{type(value): value for value in spec.provides},
    }
    install_problem_handlers(app, spec.problem_types)
    # Innermost: an outage becomes 503 + Retry-After (logged once) before metrics see it.
    app.add_middleware(
        LastResortMiddleware, retry_after_seconds=settings.outage_retry_after_seconds
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        own_limit_prefixes=tuple(spec.own_body_limit_prefixes),
    )
    app.add_middleware(HeaderSizeLimitMiddleware, max_header_bytes=settings.max_header_bytes)
    app.add_middleware(MetricsMiddleware, service=spec.service)
    app.add_middleware(TraceparentMiddleware)
    app.include_router(health_router())
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in spec.routers:
        app.include_router(router)
    document_platform_answers(app)
    return app
