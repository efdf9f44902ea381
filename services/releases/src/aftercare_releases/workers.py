"""The background work of the releases service besides the outbox relay: its consumer."""

from __future__ import annotations

from aftercare_releases.consumers import CONSUMED_TOPICS, handle_event
from aftercare_releases.settings import SERVICE_NAME, ReleasesSettings
from aftercare_shared.consumer import ConsumerRunner
from aftercare_shared.service import ServiceContext
from aftercare_shared.workers import BackgroundWorker


def build_workers(context: ServiceContext, settings: ReleasesSettings) -> list[BackgroundWorker]:
    """One consumer of aftercare.clients and aftercare.tickets feeding the read models."""
    common = settings.common
    consumer = ConsumerRunner(
        service=SERVICE_NAME,
        group_id=settings.consumer_group,
        topics=list(CONSUMED_TOPICS),
        bootstrap_servers=common.kafka_bootstrap_servers,
        session_factory=context.session_factory,
        schema=SERVICE_NAME,
        handler=handle_event,
        max_attempts=common.consumer_max_attempts,
        retry_backoff=common.consumer_retry_backoff_seconds,
    )
    return [consumer]
