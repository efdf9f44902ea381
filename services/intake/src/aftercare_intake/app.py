"""Intake's composition root: ``uvicorn --factory aftercare_intake.app:create_app``."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from aftercare_intake import repository
from aftercare_intake.api import clients, reports, staff_tokens, tickets
from aftercare_intake.consumers import CONSUMED_TOPICS, handle_event
from aftercare_intake.models import SCHEMA
from aftercare_intake.settings import IntakeSettings
from aftercare_intake.workers import idempotency_purge_worker
from aftercare_shared.consumer import ConsumerRunner
from aftercare_shared.rate_limit import RateLimiter
from aftercare_shared.service import ServiceContext, ServiceSpec, create_service_app
from aftercare_shared.workers import BackgroundWorker


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()

    def workers(context: ServiceContext) -> list[BackgroundWorker]:
        return [
            ConsumerRunner(
                service="intake",
                group_id=settings.consumer_group,
                topics=CONSUMED_TOPICS,
                bootstrap_servers=settings.common.kafka_bootstrap_servers,
                session_factory=context.session_factory,
                schema=SCHEMA,
                handler=handle_event,
                max_attempts=settings.common.consumer_max_attempts,
                retry_backoff=settings.common.consumer_retry_backoff_seconds,
            ),
            idempotency_purge_worker(
                session_factory=context.session_factory,
                retention=timedelta(hours=settings.idempotency_ttl_hours),
            ),
        ]

    app = create_service_app(
        ServiceSpec(
            service="intake",
            title="Aftercare intake",
            description="Clients, API keys, bug reports and tickets.",
            routers=[clients.router, staff_tokens.router, reports.router, tickets.router],
            # intake owns the keys: it checks its own table, so a revoked key fails at once.
            api_key_lookup=repository.resolve_api_key,
            workers=workers,
        ),
        settings.common,
    )
    app.state.idempotency_ttl = timedelta(hours=settings.idempotency_ttl_hours)
    app.state.report_rate_limiter = RateLimiter(
        rate_per_second=settings.report_rate_per_second, burst=settings.report_rate_burst
    )
    return app
