"""What intake does with other services' events.

- ``release.published`` resolves the open tickets the release lists.
- ``sla.*`` updates the SLA state shown on the ticket view.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import use_cases
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ReleasePublished, SlaClockEvent
from aftercare_shared.events.factory import payload_as
from aftercare_shared.topics import RELEASES, SLA

CONSUMED_TOPICS = [RELEASES, SLA]

_SLA_STATES = {
    "sla.clock_started": "running",
    "sla.at_risk": "at_risk",
    "sla.breached": "breached",
    "sla.met": "met",
    "sla.paused": "paused",
    "sla.resumed": "running",
}


async def handle_event(session: AsyncSession, event: CloudEvent) -> None:
    short_type = event.short_type
    if short_type == ReleasePublished.event_type:
        release = payload_as(event, ReleasePublished)
        await use_cases.resolve_tickets_fixed_by_release(
            session,
            release_id=release.release_id,
            ticket_ids=release.ticket_ids,
            published_at=release.published_at,
        )
    elif short_type in _SLA_STATES:
        clock = payload_as(event, SlaClockEvent)
        await use_cases.record_sla_state(
            session,
            ticket_id=clock.ticket_id,
            metric=clock.metric,
            state={
                "state": _SLA_STATES[short_type],
                "due_at": clock.due_at.isoformat(),
                "updated_at": clock.occurred_at.isoformat(),
            },
        )
