"""The sla service's composition root: ``uvicorn --factory aftercare_sla.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from aftercare_shared.client_keys import read_model_key_lookup
from aftercare_shared.names import ServiceName
from aftercare_shared.service import (
    READ_MODEL_LINGER_SECONDS,
    ConsumerSpec,
    ServiceSpec,
    create_service_app,
)
from aftercare_shared.staff_token_registry import read_model_staff_token_check
from aftercare_sla.api import clients, plans, reports, tickets
from aftercare_sla.consumers import handlers
from aftercare_sla.errors import PROBLEM_TYPES
from aftercare_sla.jobs import timer_job
from aftercare_sla.models import client_api_keys, staff_token_copies
from aftercare_sla.reports.publishing import report_job
from aftercare_sla.settings import SlaSettings


def create_app(settings: SlaSettings | None = None) -> FastAPI:
    settings = settings or SlaSettings()
    return create_service_app(
        ServiceSpec(
            service=ServiceName.SLA,
            title="Aftercare sla",
            description="Maintenance-plan SLAs: plans, business calendars, client "
            "assignments and the first-response and resolution clocks of every ticket.",
            routers=[plans.router, clients.router, tickets.router, reports.router],
            api_key_lookup=read_model_key_lookup(client_api_keys),
            staff_token_revoked=read_model_staff_token_check(staff_token_copies),
            problem_types=PROBLEM_TYPES,
            consumer=ConsumerSpec(
                group_id=settings.consumer_group,
                topics=[settings.clients_topic, settings.tickets_topic, *settings.report_topics],
                handlers=handlers,
                linger_seconds=READ_MODEL_LINGER_SECONDS,
            ),
            periodic_jobs=[timer_job(settings), report_job(settings)],
        ),
        settings.common,
    )
