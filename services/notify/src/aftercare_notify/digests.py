"""The digest flush: due groups become digest messages, sent like any other delivery.

A periodic job (``notify-digests``) locks the groups whose ``flush_at`` has come, with
SKIP LOCKED so that two replicas never send one group twice, and in one transaction:
turns each group's released events into digest messages of at most
``group_max_events`` events, adds one pending delivery per message (the channel-neutral
delivery path does the rest: claims, attempts, retries, disabling), takes the sent
events out of the group and sets its next ``flush_at``. The digest's message id is its
``webhook-id``: a retried digest is recognisably the same one.

The webhook body (``application/json``) is a :class:`DigestDocument` (documented in
the README, schema in ``docs/events/webhooks``); each entry of ``events`` is the event's
CloudEvent exactly as an ungrouped endpoint would have received it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_notify import repository
from aftercare_notify.digest_document import DigestDocument
from aftercare_notify.domain.grouping import (
    DEFAULT_GROUP_INTERVAL_SECONDS,
    DEFAULT_GROUP_MAX_EVENTS,
    DEFAULT_GROUP_WAIT_SECONDS,
    DIGEST_EVENT_TYPE,
    chunks,
    next_flush_at,
)
from aftercare_notify.domain.retry_schedule import RetrySchedule
from aftercare_notify.models import DELIVERIES_DUE_CHANNEL, DigestGroup, Endpoint, Message
from aftercare_notify.repository import WaitingEvent
from aftercare_shared.clock import utc_now
from aftercare_shared.periodic import PeriodicJob
from aftercare_shared.wakeup import notify_on_commit

logger = structlog.get_logger(__name__)


def digest_body(
    *,
    digest_id: str,
    group: DigestGroup,
    part: int,
    parts: int,
    events: Sequence[WaitingEvent],
    now: datetime,
) -> bytes:
    """The digest document; the events' stored bytes are spliced in unchanged."""
    head = orjson.dumps(
        DigestDocument(
            type=DIGEST_EVENT_TYPE,
            id=digest_id,
            endpoint_id=group.endpoint_id,
            group_id=group.id,
            group=group.labels,
            part=part,
            parts=parts,
            count=len(events),
            time=now,
            events=[],
        ).model_dump(mode="json")
    )
    assert head.endswith(b"[]}")
    return head[:-2] + b",".join(event.body for event in events) + b"]}"


async def flush_due_groups(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    schedule: RetrySchedule,
    batch_size: int,
) -> int:
    """One round: flush up to ``batch_size`` due groups; returns how many were due."""
    async with session_factory() as session:
        now = utc_now()
        claimed = await repository.claim_due_digest_groups(session, now=now, limit=batch_size)
        waiting = await repository.waiting_events(session, [group.id for group, _ in claimed])
        sent = 0
        for group, endpoint in claimed:
            sent += await _flush_group(
                session, group, endpoint, waiting[group.id], schedule=schedule, now=now
            )
        if sent:
            await notify_on_commit(session, DELIVERIES_DUE_CHANNEL)
        await repository.delete_idle_digest_groups(session, now=now)
        await session.commit()
    if sent:
        logger.info("digests flushed", groups=len(claimed), messages=sent)
    return len(claimed)


async def _flush_group(
    session: AsyncSession,
    group: DigestGroup,
    endpoint: Endpoint,
    waiting: list[WaitingEvent],
    *,
    schedule: RetrySchedule,
    now: datetime,
) -> int:
    """Send what is released as digest messages; returns how many messages."""
    if endpoint.status != "enabled":
        # A disabled endpoint's deliveries are cancelled; its groups are dropped alike.
        await repository.remove_waiting_events(session, waiting)
        group.flush_at = None
        return 0
    released = [event for event in waiting if event.released_at <= now]
    held = [event for event in waiting if event.released_at > now]
    parts = chunks(released, _or_default(endpoint.group_max_events, DEFAULT_GROUP_MAX_EVENTS))
    for part, events in enumerate(parts, start=1):
        digest_id = repository.new_id()
        await repository.insert_digest_message(
            session,
            message=Message(
                id=digest_id,
                event_type=DIGEST_EVENT_TYPE,
                subject=group.id,
                client_id=_client_of(group, endpoint),
                priority=None,
                environment=None,
                staff_only=False,
                event_time=now,
                body=digest_body(
                    digest_id=digest_id,
                    group=group,
                    part=part,
                    parts=len(parts),
                    events=events,
                    now=now,
                ),
                received_at=now,
            ),
            endpoint_id=endpoint.id,
            due_at=schedule.first_due_at(now),
            now=now,
        )
    if released:
        await repository.remove_waiting_events(session, released)
        group.last_flushed_at = now
    group.flush_at = next_flush_at(
        earliest_released_at=min((event.released_at for event in held), default=None),
        last_flushed_at=group.last_flushed_at,
        group_wait=timedelta(
            seconds=_or_default(endpoint.group_wait_seconds, DEFAULT_GROUP_WAIT_SECONDS)
        ),
        group_interval=timedelta(
            seconds=_or_default(endpoint.group_interval_seconds, DEFAULT_GROUP_INTERVAL_SECONDS)
        ),
    )
    return len(parts)


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value


def _client_of(group: DigestGroup, endpoint: Endpoint) -> str | None:
    client = group.labels.get("client_id")
    return client if isinstance(client, str) else endpoint.client_id


def digest_job(*, schedule: RetrySchedule, interval_seconds: float, batch_size: int) -> PeriodicJob:
    """Flush due digest groups every ``interval_seconds`` (at once again after a full round)."""

    async def flush_round(session_factory: async_sessionmaker[AsyncSession]) -> int:
        return await flush_due_groups(session_factory, schedule=schedule, batch_size=batch_size)

    return PeriodicJob(
        name="notify-digests",
        interval_seconds=interval_seconds,
        run=flush_round,
        batch_size=batch_size,
    )
