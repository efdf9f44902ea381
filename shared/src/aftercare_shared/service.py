"""The one place a service's FastAPI app is assembled.

Every service gets the same middleware (trace, metrics, body limit), problem+json errors,
health and metrics routes, and a lifespan that owns the engine, the outbox relay, the
consumers and the timers. Nothing is built at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare_shared.auth import Authenticator, StaffTokens
from aftercare_shared.auth.authenticator import ApiKeyLookup
from aftercare_shared.body_limit import BodySizeLimitMiddleware
from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.observability.health import KafkaProbe, health_router
from aftercare_shared.observability.http_trace import TraceparentMiddleware
from aftercare_shared.observability.logging import configure_logging
from aftercare_shared.observability.metrics import MetricsMiddleware, metrics_endpoint
from aftercare_shared.outbox.relay import OutboxRelay
from aftercare_shared.problems import install_problem_handlers
from aftercare_shared.rate_limit import RateLimiter
from aftercare_shared.settings import CommonSettings
from aftercare_shared.workers import BackgroundWorker, WorkerSupervisor


@dataclass
class ServiceContext:
    """What a service's wiring code receives once the lifespan has built the engine."""

    service: str
    settings: CommonSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    extras: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceSpec:
    service: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    api_key_lookup: ApiKeyLookup
    workers: Callable[[ServiceContext], list[BackgroundWorker]]
    """Consumers and timers of this service (the outbox relay is added for every service)."""


def create_service_app(spec: ServiceSpec, settings: CommonSettings) -> FastAPI:
    configure_logging(
        service=spec.service, level=settings.log_level, log_format=settings.log_format
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
        app.state.context = context
        app.state.engine = engine
        app.state.session_factory = context.session_factory
        app.state.kafka_probe = KafkaProbe(settings.kafka_bootstrap_servers)
        app.state.authenticator = Authenticator(
            staff_tokens=StaffTokens(
                admin_token=settings.admin_token.get_secret_value(),
                signing_key=settings.token_signing_key.get_secret_value()
                if settings.token_signing_key
                else None,
            ),
            api_key_lookup=spec.api_key_lookup,
        )
        relay = OutboxRelay(
            engine=engine,
            schema=spec.service,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            poll_interval=settings.outbox_poll_interval_seconds,
            batch_size=settings.outbox_batch_size,
        )
        supervisor = WorkerSupervisor([relay, *spec.workers(context)])
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
        rate_per_second=settings.client_rate_per_second, burst=settings.client_rate_burst
    )
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, service=spec.service)
    app.add_middleware(TraceparentMiddleware)
    app.include_router(health_router())
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in spec.routers:
        app.include_router(router)
    return app
