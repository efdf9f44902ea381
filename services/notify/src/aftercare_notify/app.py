"""The notify service: webhook endpoints, fan-out of every event, signed delivery.

Run with ``uvicorn --factory aftercare_notify.app:create_app``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from fastapi import FastAPI

from aftercare_notify.api import deliveries, endpoints, stream
from aftercare_notify.consumers import build_handlers
from aftercare_notify.digests import digest_job
from aftercare_notify.errors import PROBLEM_TYPES
from aftercare_notify.jobs import retention_job
from aftercare_notify.models import CLIENT_API_KEYS, DELIVERIES_DUE_CHANNEL, STAFF_TOKEN_COPIES
from aftercare_notify.secret_sealing import secret_reencryption_job
from aftercare_notify.settings import NotifySettings
from aftercare_notify.stream import StreamFeed
from aftercare_notify.workers import DeliveryWorker
from aftercare_shared.client_keys import read_model_key_lookup
from aftercare_shared.names import ServiceName
from aftercare_shared.service import ConsumerSpec, ServiceContext, ServiceSpec, create_service_app
from aftercare_shared.staff_token_registry import read_model_staff_token_check
from aftercare_shared.topics import EVENT_TOPICS
from aftercare_shared.url_guard import UrlGuard
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

    feed = StreamFeed(
        retention_seconds=settings.stream_retention_seconds,
        poll_interval_seconds=settings.stream_poll_interval_seconds,
        queue_size=settings.stream_reader_queue,
    )

    def delivery_workers(context: ServiceContext) -> Sequence[BackgroundWorker]:
        feed.attach(context.engine, context.session_factory)
        if not settings.delivery_worker_enabled:
            return [feed]
        return [
            feed,
            DeliveryWorker(
                session_factory=context.session_factory,
                settings=settings,
                guard=guard,
                wakeup=CommitWakeup(context.engine, DELIVERIES_DUE_CHANNEL),
            ),
        ]

    spec = ServiceSpec(
        service=ServiceName.NOTIFY,
        title="Aftercare notify",
        description=DESCRIPTION,
        routers=[endpoints.router, deliveries.router, stream.router],
        api_key_lookup=read_model_key_lookup(CLIENT_API_KEYS),
        staff_token_revoked=read_model_staff_token_check(STAFF_TOKEN_COPIES),
        problem_types=PROBLEM_TYPES,
        # Every topic, notify's own included: any event may have subscribers.
        consumer=ConsumerSpec(
            group_id=settings.consumer_group,
            topics=EVENT_TOPICS,
            handlers=build_handlers(settings),
        )
        if settings.consumer_enabled
        else None,
        periodic_jobs=[
            retention_job(retention=timedelta(days=settings.retention_days)),
            secret_reencryption_job(),
            digest_job(
                schedule=settings.parsed_retry_schedule,
                interval_seconds=settings.digest_flush_interval_seconds,
                batch_size=settings.digest_flush_batch_size,
            ),
        ],
        workers=delivery_workers,
        provides=[settings, guard, feed],
    )
    return create_service_app(spec, settings.common)
