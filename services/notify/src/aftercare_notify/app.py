"""The notify service: webhook endpoints, fan-out of every event, signed delivery.

Run with ``uvicorn --factory aftercare_notify.app:create_app``.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from aftercare_notify.api import deliveries, endpoints
from aftercare_notify.consumers import build_fan_out_consumer
from aftercare_notify.models import CLIENT_API_KEYS, DELIVERIES_DUE_CHANNEL
from aftercare_notify.retention import retention_worker
from aftercare_notify.settings import NotifySettings
from aftercare_notify.url_guard import UrlGuard
from aftercare_notify.workers import DeliveryWorker
from aftercare_shared.client_keys import read_model_key_lookup
from aftercare_shared.service import ServiceContext, ServiceSpec, create_service_app
from aftercare_shared.wakeup import CommitWakeup
from aftercare_shared.workers import BackgroundWorker

DESCRIPTION = """\
Ops teams and integrators subscribe endpoints to Aftercare's events and receive them as
CloudEvents (structured JSON), signed per Standard Webhooks, retried on a schedule, with
every attempt logged. Client API keys may read their own client's endpoints.
"""


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings if settings is not None else NotifySettings()
    guard = UrlGuard(
        allowlist=settings.parsed_ssrf_allowlist,
        dns_timeout_seconds=settings.dns_timeout_seconds,
    )

    def workers(context: ServiceContext) -> list[BackgroundWorker]:
        running: list[BackgroundWorker] = []
        if settings.consumer_enabled:
            running.append(build_fan_out_consumer(context, settings))
        if settings.delivery_worker_enabled:
            running.append(
                DeliveryWorker(
                    session_factory=context.session_factory,
                    settings=settings,
                    guard=guard,
                    wakeup=CommitWakeup(context.engine, DELIVERIES_DUE_CHANNEL),
                )
            )
        running.append(
            retention_worker(
                session_factory=context.session_factory,
                retention=timedelta(days=settings.retention_days),
            )
        )
        return running

    spec = ServiceSpec(
        service="notify",
        title="Aftercare notify",
        description=DESCRIPTION,
        routers=[endpoints.router, deliveries.router],
        api_key_lookup=read_model_key_lookup(CLIENT_API_KEYS),
        workers=workers,
    )
    app = create_service_app(spec, settings.common)
    app.state.notify_settings = settings
    app.state.url_guard = guard
    return app
