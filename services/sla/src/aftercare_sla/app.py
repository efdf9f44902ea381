"""The sla service's composition root: ``uvicorn --factory aftercare_sla.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from aftercare_shared.client_keys import read_model_key_lookup
from aftercare_shared.consumer import ConsumerRunner
from aftercare_shared.service import ServiceContext, ServiceSpec, create_service_app
from aftercare_shared.workers import BackgroundWorker
from aftercare_sla.api import clients, plans, tickets
from aftercare_sla.consumers import handle_event
from aftercare_sla.models import SCHEMA, client_api_keys
from aftercare_sla.settings import SlaSettings
from aftercare_sla.workers import SlaTimerWorker


def create_app(settings: SlaSettings | None = None) -> FastAPI:
    settings = settings or SlaSettings()

    def workers(context: ServiceContext) -> list[BackgroundWorker]:
        return [
            ConsumerRunner(
                service=SCHEMA,
                group_id=settings.consumer_group,
                topics=[settings.clients_topic, settings.tickets_topic],
                bootstrap_servers=settings.common.kafka_bootstrap_servers,
                session_factory=context.session_factory,
                schema=SCHEMA,
                handler=handle_event,
                max_attempts=settings.common.consumer_max_attempts,
                retry_backoff=settings.common.consumer_retry_backoff_seconds,
            ),
            SlaTimerWorker(
                session_factory=context.session_factory,
                poll_interval=settings.timer_poll_seconds,
                batch_size=settings.timer_batch_size,
            ),
        ]

    return create_service_app(
        ServiceSpec(
            service=SCHEMA,
            title="Aftercare sla",
            description="Maintenance-plan SLAs: plans, business calendars, client "
            "assignments and the first-response and resolution clocks of every ticket.",
            routers=[plans.router, clients.router, tickets.router],
            api_key_lookup=read_model_key_lookup(client_api_keys),
            workers=workers,
        ),
        settings.common,
    )
