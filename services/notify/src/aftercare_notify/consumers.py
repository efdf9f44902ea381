"""What notify does with events: keep the client-key read model, and fan every event out.

Fan-out takes the raw CloudEvents (``on_every_event``, a run of them at once) because the
exact bytes received are what every delivery sends and signs. The platform has already
refused types that are not in the catalog (dead-lettered); internal types (client API key
events) are stored like any other but never match a subscription.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_notify import repository
from aftercare_notify.domain.event_patterns import is_self_referential, patterns_matching
from aftercare_notify.domain.quiet_hours import opens_at
from aftercare_notify.domain.retry_schedule import RetrySchedule
from aftercare_notify.domain.routing import routing_fields
from aftercare_notify.metrics import FANOUT_LAG_SECONDS
from aftercare_notify.models import (
    CLIENT_API_KEYS,
    DELIVERIES_DUE_CHANNEL,
    STAFF_TOKEN_COPIES,
    ClientCalendar,
    Message,
)
from aftercare_notify.repository import FanOut
from aftercare_notify.settings import NotifySettings
from aftercare_notify.stream import STREAM_CHANNEL
from aftercare_shared.client_keys import client_key_handlers
from aftercare_shared.clock import utc_now
from aftercare_shared.consumer import EventHandlers, PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import SlaClientPlanAssigned, SlaClientPlanUnassigned
from aftercare_shared.events.envelope import EventDecodeError
from aftercare_shared.events.factory import decode_payload
from aftercare_shared.staff_token_registry import staff_token_handlers
from aftercare_shared.wakeup import notify_on_commit


async def fan_out_events(
    session: AsyncSession,
    events: Sequence[CloudEvent],
    *,
    schedule: RetrySchedule,
    now: datetime,
) -> int:
    """Store each event once and queue its deliveries and digest entries; never commits.

    A run of events costs the same few round trips as one (the messages and the
    calendars in one statement each, the per-event fan-out statements pipelined), with
    the effect of fanning them out one by one in list order. Returns how many events
    were stored for the first time (an event seen before is not sent again).
    """
    routed = {event.id: (event, routing_fields(event.clientid, event.data)) for event in events}
    stored = await repository.insert_messages(
        session,
        [
            Message(
                id=event.id,
                event_type=event.type,
                subject=event.subject,
                client_id=event.clientid,
                priority=routing.priority,
                environment=routing.environment,
                staff_only=routing.staff_only,
                event_time=event.time,
                # Serialised once, here: every attempt sends (and signs) exactly these bytes.
                body=event.to_json_bytes(),
                received_at=now,
            )
            for event, routing in routed.values()
        ],
    )
    if not stored:
        return 0
    # The live stream's feed wakes when this transaction commits, not at its next poll.
    await notify_on_commit(session, STREAM_CHANNEL)
    fresh = [routed[event_id] for event_id in routed if event_id in stored]
    calendars = await repository.client_calendars(
        session, (event.clientid for event, _ in fresh if event.clientid is not None)
    )
    fan_outs = []
    for event, routing in fresh:
        FANOUT_LAG_SECONDS.observe(max(0.0, (now - event.time).total_seconds()))
        calendar = calendars.get(event.clientid) if event.clientid is not None else None
        fan_outs.append(
            FanOut(
                message_id=event.id,
                candidate_patterns=patterns_matching(event.type),
                routing=routing,
                group_values={
                    "client_id": event.clientid,
                    "type": event.short_type,
                    "priority": routing.priority,
                    "environment": routing.environment,
                    "subject": event.subject,
                },
                skip_endpoint_id=_endpoint_the_event_is_about(event),
                quiet_until=opens_at(calendar, now) if calendar is not None else None,
            )
        )
    if await repository.insert_fan_out_deliveries(
        session, fan_outs, due_at=schedule.first_due_at(now), now=now
    ):
        # The delivery worker wakes when this transaction commits, not at its next poll.
        await notify_on_commit(session, DELIVERIES_DUE_CHANNEL)
    # Endpoints that group get the event into a digest group instead (digests.py).
    await repository.insert_fan_out_digest_items(session, fan_outs, now=now)
    return len(fresh)


def _endpoint_the_event_is_about(event: CloudEvent) -> str | None:
    # A notification.* event about endpoint E is never sent to E, even when E subscribed
    # to it by name: E failing would otherwise be reported to E, fail, and be reported again.
    if not is_self_referential(event.type):
        return None
    endpoint_id = event.data.get("endpoint_id")
    return endpoint_id if isinstance(endpoint_id, str) else None


def build_handlers(settings: NotifySettings) -> EventHandlers:
    """The registry the platform's consumer dispatches to (in the runner's transaction)."""
    handlers = EventHandlers()
    handlers.include(client_key_handlers(CLIENT_API_KEYS))
    handlers.include(staff_token_handlers(STAFF_TOKEN_COPIES))
    schedule = settings.parsed_retry_schedule

    @handlers.on(SlaClientPlanAssigned)
    async def plan_assigned(session: AsyncSession, assigned: SlaClientPlanAssigned) -> None:
        await repository.save_client_calendar(
            session,
            ClientCalendar(
                client_id=assigned.client_id,
                plan_id=assigned.plan_id,
                calendar=assigned.calendar,
                assigned_at=assigned.assigned_at,
            ),
        )

    @handlers.on(SlaClientPlanUnassigned)
    async def plan_unassigned(session: AsyncSession, unassigned: SlaClientPlanUnassigned) -> None:
        await repository.drop_client_calendar(
            session, client_id=unassigned.client_id, unassigned_at=unassigned.unassigned_at
        )

    @handlers.on_every_event
    async def fan_out(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        # Subscribers are promised the catalog's schema: a payload that does not match it
        # is dead-lettered rather than sent on, as a typed handler would refuse it. (In a
        # run, the runner then applies the records one by one, and only this one fails.)
        for event in events:
            try:
                decode_payload(event)
            except EventDecodeError as error:
                raise PermanentEventError(str(error)) from error
        await fan_out_events(session, events, schedule=schedule, now=utc_now())

    return handlers
