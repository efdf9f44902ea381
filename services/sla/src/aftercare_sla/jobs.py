"""sla's periodic job: fire due SLA timers (``sla.at_risk``, ``sla.breached``), durable and once.

A batch of due timers is claimed together with their clocks with ``FOR UPDATE SKIP
LOCKED`` (replicas share the work, never fire a timer twice and never wait for one
another), the events go to the outbox and the timers are deleted, all in one transaction:
a replica killed mid-batch leaves nothing behind (its transaction rolls back and another
replica claims the same timers). A timer scheduled for an older version of its clock
(the clock was stopped, paused or re-targeted since) is dropped unfired.

The platform runs :func:`timer_job` beside the HTTP server; the batch in flight when it
stops finishes (its transaction commits or rolls back whole).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import utc_now
from aftercare_shared.periodic import PeriodicJob
from aftercare_sla import repository
from aftercare_sla.announcements import announce
from aftercare_sla.domain.clocks import SlaClock, TimerKind, fire_timer
from aftercare_sla.settings import SlaSettings


def timer_job(settings: SlaSettings) -> PeriodicJob:
    """Fire due timers every ``timer_poll_seconds``; a full batch is followed at once."""

    async def fire_due_timers(session_factory: async_sessionmaker[AsyncSession]) -> int:
        return await process_due_timers(
            session_factory, now=utc_now(), batch_size=settings.timer_batch_size
        )

    return PeriodicJob(
        name="sla-timers",
        interval_seconds=settings.timer_poll_seconds,
        run=fire_due_timers,
        batch_size=settings.timer_batch_size,
    )


async def process_due_timers(
    session_factory: async_sessionmaker[AsyncSession], *, now: datetime, batch_size: int
) -> int:
    """Fire the timers due before ``now`` (at most ``batch_size``); returns how many."""
    async with session_factory() as session, session.begin():
        claimed = await repository.claim_due_timers(session, now=now, limit=batch_size)
        if not claimed:
            return 0
        # A clock with two due timers (at-risk and breach) is one row: fire both on it.
        clocks: dict[str, SlaClock] = {}
        for timer, row, ticket in claimed:
            clock = clocks.setdefault(row.id, repository.clock_from_row(row))
            changes = fire_timer(clock, TimerKind(timer.kind), timer.clock_version, now)
            await announce(session, ticket, [(clock, change) for change in changes])
        for _, row, _ in claimed:
            repository.copy_clock_to_row(clocks[row.id], row)
        await repository.delete_timers(session, (timer.id for timer, _, _ in claimed))
        return len(claimed)
