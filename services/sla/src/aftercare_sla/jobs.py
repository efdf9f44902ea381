"""sla's periodic job: fire due SLA timers (``sla.at_risk``, ``sla.breached``), durable and once.

A batch of due timers is claimed with ``FOR UPDATE SKIP LOCKED`` (replicas share the work
and never fire a timer twice), their clocks are locked, the events go to the outbox and
the timers are deleted, all in one transaction. A timer scheduled for an older version of
its clock (the clock was stopped, paused or re-targeted since) is dropped unfired.

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
from aftercare_sla.domain.clocks import TimerKind, fire_timer
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
        timers = await repository.claim_due_timers(session, now=now, limit=batch_size)
        if not timers:
            return 0
        locked = await repository.lock_clocks_with_tickets(
            session, (timer.clock_id for timer in timers)
        )
        clocks = {clock_id: repository.clock_from_row(row) for clock_id, (row, _) in locked.items()}
        for timer in timers:
            _, ticket = locked[timer.clock_id]
            clock = clocks[timer.clock_id]
            changes = fire_timer(clock, TimerKind(timer.kind), timer.clock_version, now)
            await announce(session, ticket, [(clock, change) for change in changes])
        for clock_id, (row, _) in locked.items():
            repository.copy_clock_to_row(clocks[clock_id], row)
        await repository.delete_timers(session, (timer.id for timer in timers))
        return len(timers)
