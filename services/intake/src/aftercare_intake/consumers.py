"""What intake does with other services' events.

- ``release.published`` resolves the open tickets the release lists and records the
  product and version that fixed them (for telling regressions from old deployments);
  under a plan resolving on deploy it marks them awaiting deploy instead, and
  ``release.deployed`` to the plan's environment resolves those;
  ``sla.client_plan_assigned`` says which (:mod:`.fix_resolution`).
- ``sla.*`` clock events update the SLA state shown on the ticket view (every metric,
  ``next_response`` included; ``sla.due_changed`` moves the due time and keeps the state).
- ``advisory.matched`` / ``advisory.patched`` open and resolve security tickets, and
  ``release.rolled_back`` reopens what the release resolved (:mod:`.patch_tickets`).

intake owns client API keys itself, so it keeps no read model of them.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import fix_resolution, patch_tickets, use_cases
from aftercare_intake.domain import SlaViewState
from aftercare_intake.models import Ticket
from aftercare_shared.consumer.handlers import EventHandlers, PayloadHandler
from aftercare_shared.events.catalog import (
    AdvisoryMatched,
    AdvisoryPatched,
    ReleaseDeployed,
    ReleasePublished,
    ReleaseRolledBack,
    SlaAtRisk,
    SlaBreached,
    SlaCancelled,
    SlaClientPlanAssigned,
    SlaClientPlanUnassigned,
    SlaClockEvent,
    SlaClockStarted,
    SlaDueChanged,
    SlaMet,
    SlaPaused,
    SlaResumed,
)
from aftercare_shared.topics import RELEASES, SLA

CONSUMED_TOPICS = [RELEASES, SLA]

handlers = EventHandlers()


@handlers.on(ReleasePublished)
async def release_published(session: AsyncSession, release: ReleasePublished) -> None:
    await use_cases.resolve_tickets_fixed_by_release(
        session,
        release=use_cases.PublishedRelease(
            release_id=release.release_id,
            product=release.product,
            version=release.version,
            ticket_ids=release.ticket_ids,
            published_at=release.published_at,
        ),
    )


def _shows_sla_state(state: SlaViewState) -> PayloadHandler[SlaClockEvent]:
    """A handler recording that the event's clock is now in ``state``."""

    async def record(session: AsyncSession, clock: SlaClockEvent) -> None:
        await use_cases.record_sla_state(
            session,
            ticket_id=clock.ticket_id,
            metric=clock.metric,
            state=state,
            due_at=clock.due_at,
            occurred_at=clock.occurred_at,
        )

    record.__name__ = f"shows_sla_{state}"
    return record


handlers.add(SlaClockStarted, _shows_sla_state("running"))
handlers.add(SlaAtRisk, _shows_sla_state("at_risk"))
handlers.add(SlaBreached, _shows_sla_state("breached"))
handlers.add(SlaMet, _shows_sla_state("met"))
handlers.add(SlaPaused, _shows_sla_state("paused"))
handlers.add(SlaResumed, _shows_sla_state("running"))
handlers.add(SlaCancelled, _shows_sla_state("cancelled"))


@handlers.on(SlaDueChanged)
async def shows_sla_due_changed(session: AsyncSession, changed: SlaDueChanged) -> None:
    """A calendar change moved a running clock's due time: its state stays as shown."""
    shown = await session.scalar(
        select(Ticket.sla_status[changed.metric]["state"].astext).where(
            Ticket.id == changed.ticket_id
        )
    )
    await use_cases.record_sla_state(
        session,
        ticket_id=changed.ticket_id,
        metric=changed.metric,
        state=cast(SlaViewState, shown or "running"),
        due_at=changed.due_at,
        occurred_at=changed.occurred_at,
    )


handlers.add(AdvisoryMatched, patch_tickets.open_security_ticket)
handlers.add(AdvisoryPatched, patch_tickets.resolve_patched)
handlers.add(ReleaseRolledBack, patch_tickets.reopen_rolled_back)
handlers.add(SlaClientPlanAssigned, fix_resolution.record_resolution_mode)
handlers.add(SlaClientPlanUnassigned, fix_resolution.forget_resolution_mode)
handlers.add(ReleaseDeployed, fix_resolution.resolve_deployed)
