"""Turn clock changes into ``sla.*`` events in the outbox, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.events.catalog import (
    SlaAtRisk,
    SlaBreached,
    SlaCancelled,
    SlaClockEvent,
    SlaClockStarted,
    SlaDueChanged,
    SlaMet,
    SlaOutcome,
    SlaPaused,
    SlaResumed,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event
from aftercare_sla.domain.clocks import ClockChange, ClockEvent, SlaClock
from aftercare_sla.domain.ticket_lifecycle import ClockEvents
from aftercare_sla.models import SCHEMA, TrackedTicket

PAYLOAD_TYPES: dict[ClockChange, type[SlaClockEvent]] = {
    ClockChange.STARTED: SlaClockStarted,
    ClockChange.AT_RISK: SlaAtRisk,
    ClockChange.BREACHED: SlaBreached,
    ClockChange.MET: SlaMet,
    ClockChange.PAUSED: SlaPaused,
    ClockChange.RESUMED: SlaResumed,
    ClockChange.CANCELLED: SlaCancelled,
}


async def announce(session: AsyncSession, ticket: TrackedTicket, changes: ClockEvents) -> None:
    """Enqueue one event per change, keyed by the ticket so they stay in order."""
    for clock, change in changes:
        fields = {
            "ticket_id": ticket.ticket_id,
            "client_id": ticket.client_id,
            "metric": clock.metric,
            "plan_id": ticket.plan_id,
            "priority": ticket.priority,
            "started_at": clock.started_at,
            "due_at": clock.due_at,
            "occurred_at": change.occurred_at,
            "cycle": clock.cycle,
            "outcome": _outcome(clock, change),
        }
        payload: SlaClockEvent
        if change.change is ClockChange.DUE_CHANGED:
            assert change.previous_due_at is not None
            payload = SlaDueChanged(**fields, previous_due_at=change.previous_due_at)
        else:
            payload = PAYLOAD_TYPES[change.change](**fields)
        event = new_event(
            payload, service=ServiceName.SLA, subject=ticket.ticket_id, client_id=ticket.client_id
        )
        await enqueue_event(session, event, schema=SCHEMA)


def _outcome(clock: SlaClock, change: ClockEvent) -> SlaOutcome | None:
    """How a clock ended, on the events that end it."""
    if change.change is ClockChange.MET:
        return "met_by_resolution" if clock.outcome == "met_by_resolution" else "met"
    if change.change is ClockChange.CANCELLED:
        return "cancelled"
    return None
