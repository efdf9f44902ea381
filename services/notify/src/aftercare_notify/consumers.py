"""The fan-out consumer: every event on every topic becomes deliveries to its subscribers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_notify import repository
from aftercare_notify.domain.event_patterns import is_self_referential, patterns_matching
from aftercare_notify.domain.retry_schedule import RetrySchedule
from aftercare_notify.metrics import FANOUT_LAG_SECONDS
from aftercare_notify.models import CLIENT_API_KEYS, DELIVERIES_DUE_CHANNEL, SCHEMA, Message
from aftercare_notify.settings import NotifySettings
from aftercare_shared.client_keys import apply_client_key_event
from aftercare_shared.consumer import ConsumerRunner, EventHandler
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.envelope import utc_now
from aftercare_shared.service import ServiceContext
from aftercare_shared.topics import EVENT_TOPICS
from aftercare_shared.wakeup import notify_on_commit


async def fan_out_event(
    session: AsyncSession, event: CloudEvent, *, schedule: RetrySchedule, now: datetime
) -> int:
    """Store the event once and add a delivery per matching endpoint; never commits.

    Returns how many deliveries were created (0 for an event seen before).
    """
    stored = await repository.insert_message(
        session,
        Message(
            id=event.id,
            event_type=event.type,
            subject=event.subject,
            client_id=event.clientid,
            event_time=event.time,
            # Serialised once, here: every attempt sends (and signs) exactly these bytes.
            body=event.to_json_bytes(),
            received_at=now,
        ),
    )
    if not stored:
        return 0
    FANOUT_LAG_SECONDS.observe(max(0.0, (now - event.time).total_seconds()))
    created = await repository.insert_fan_out_deliveries(
        session,
        message_id=event.id,
        candidate_patterns=patterns_matching(event.type),
        message_client_id=event.clientid,
        skip_endpoint_id=_endpoint_the_event_is_about(event),
        due_at=schedule.first_due_at(now),
        now=now,
    )
    if created:
        # The delivery worker wakes when this transaction commits, not at its next poll.
        await notify_on_commit(session, DELIVERIES_DUE_CHANNEL)
    return created


def _endpoint_the_event_is_about(event: CloudEvent) -> str | None:
    # A notification.* event about endpoint E is never sent to E, even when E subscribed
    # to it by name: E failing would otherwise be reported to E, fail, and be reported again.
    if not is_self_referential(event.type):
        return None
    endpoint_id = event.data.get("endpoint_id")
    return endpoint_id if isinstance(endpoint_id, str) else None


def fan_out_handler(*, schedule: RetrySchedule) -> EventHandler:
    """The consumer handler: client-key read model, then fan-out (runner's transaction)."""

    async def handle_event(session: AsyncSession, event: CloudEvent) -> None:
        await apply_client_key_event(session, event, CLIENT_API_KEYS)
        await fan_out_event(session, event, schedule=schedule, now=utc_now())

    return handle_event


def build_fan_out_consumer(context: ServiceContext, settings: NotifySettings) -> ConsumerRunner:
    """The consumer group that reads every event topic for notify."""
    common = settings.common
    return ConsumerRunner(
        service="notify",
        group_id=settings.consumer_group,
        topics=list(EVENT_TOPICS),
        bootstrap_servers=common.kafka_bootstrap_servers,
        session_factory=context.session_factory,
        schema=SCHEMA,
        handler=fan_out_handler(schedule=settings.parsed_retry_schedule),
        max_attempts=common.consumer_max_attempts,
        retry_backoff=common.consumer_retry_backoff_seconds,
    )
