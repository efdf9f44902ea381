"""Intake's composition root: ``uvicorn --factory aftercare_intake.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from aftercare_intake import repository
from aftercare_intake.api import (
    clients,
    feedback,
    monitors,
    pings,
    reports,
    sentry,
    staff_tokens,
    tickets,
)
from aftercare_intake.api.dependencies import (
    IngestTokenLeases,
    ProjectRateLimiter,
    ReportRateLimiter,
)
from aftercare_intake.api.sentry_cors import SENTRY_PREFIX, SentryCorsMiddleware
from aftercare_intake.consumers import CONSUMED_TOPICS, handlers
from aftercare_intake.errors import PROBLEM_TYPES
from aftercare_intake.jobs import (
    auto_close_job,
    idempotency_purge_job,
    monitor_deadline_job,
    occurrence_announcement_job,
    uptime_probe_job,
)
from aftercare_intake.models import SCHEMA
from aftercare_intake.monitors.probes import Prober, probe_ssl_context
from aftercare_intake.one_statement_filing import OneStatementFiling
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.names import ServiceName
from aftercare_shared.service import (
    READ_MODEL_LINGER_SECONDS,
    ConsumerSpec,
    ServiceSpec,
    create_service_app,
)
from aftercare_shared.url_guard import UrlGuard


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    common = settings.common
    app = create_service_app(
        ServiceSpec(
            service=ServiceName.INTAKE,
            title="Aftercare intake",
            description="Clients, projects, API keys and DSNs, bug reports, Sentry ingest, "
            "tickets with their occurrences, and routine checks (monitors).",
            routers=[
                clients.router,
                staff_tokens.router,
                reports.router,
                tickets.router,
                feedback.router,
                sentry.router,
                monitors.router,
                pings.router,
            ],
            # intake owns the keys: it checks its own table, so a revoked key fails at once.
            api_key_lookup=repository.resolve_api_key,
            staff_token_revoked=repository.staff_token_revoked,
            problem_types=PROBLEM_TYPES,
            consumer=ConsumerSpec(
                group_id=settings.consumer_group,
                topics=CONSUMED_TOPICS,
                handlers=handlers,
                linger_seconds=READ_MODEL_LINGER_SECONDS,
            ),
            periodic_jobs=[
                idempotency_purge_job(ttl=settings.idempotency_ttl),
                occurrence_announcement_job(policy=settings.occurrence_policy),
                auto_close_job(closes_after=settings.auto_close_after),
                monitor_deadline_job(
                    policy=settings.occurrence_policy,
                    interval_seconds=settings.monitor_check_interval_seconds,
                    batch_size=settings.monitor_batch_size,
                ),
                uptime_probe_job(
                    prober=Prober(
                        guard=UrlGuard(
                            allowlist=settings.probe_allowed_networks,
                            dns_timeout_seconds=settings.probe_dns_timeout_seconds,
                        ),
                        ssl_context=probe_ssl_context(settings.probe_ca_bundle),
                    ),
                    policy=settings.occurrence_policy,
                    interval_seconds=settings.monitor_check_interval_seconds,
                    batch_size=settings.monitor_batch_size,
                    concurrency=settings.probe_concurrency,
                ),
            ],
            provides=[
                settings,
                ReportRateLimiter(
                    schema=SCHEMA,
                    name="report",
                    rate_per_second=settings.report_rate_per_second,
                    burst=settings.report_rate_burst,
                ),
                ProjectRateLimiter(
                    schema=SCHEMA,
                    name="ingest",
                    rate_per_second=settings.project_rate_per_second,
                    burst=settings.project_rate_burst,
                ),
                IngestTokenLeases(),
                OneStatementFiling(),
            ],
            # Envelopes are streamed and limited after decompression (20 MiB), by the route.
            own_body_limit_prefixes=[SENTRY_PREFIX],
        ),
        common,
    )
    app.add_middleware(SentryCorsMiddleware)
    return app
