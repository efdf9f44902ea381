"""Intake's periodic jobs: forget old Idempotency-Key answers; announce a storm's tail;
close tickets that stayed resolved long enough; the monitor timers (heartbeat deadlines,
uptime probes)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_intake import auto_close, use_cases
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.monitors import rounds
from aftercare_intake.monitors.probes import Prober
from aftercare_shared.clock import utc_now
from aftercare_shared.periodic import PeriodicJob

logger = structlog.get_logger(__name__)

# Expired records already stop counting when a key is claimed again (the claim deletes
# its own stale record); the purge only keeps the table from growing, so hourly is plenty.
IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 3600.0

AUTO_CLOSE_BATCH_SIZE = 500
# Closing is due by the day: a minute late is no one's concern, and a due batch is
# followed by the next one at once.
AUTO_CLOSE_INTERVAL_SECONDS = 60.0

ANNOUNCEMENT_BATCH_SIZE = 500
# How often to look for tickets whose unannounced occurrences are due: a fraction of the
# announcement interval, so a storm's tail is told at most a quarter-interval late.
ANNOUNCEMENT_CHECKS_PER_INTERVAL = 4
ANNOUNCEMENT_CHECK_BOUNDS_SECONDS = (0.5, 15.0)


def idempotency_purge_job(*, ttl: timedelta) -> PeriodicJob:
    async def purge(session_factory: async_sessionmaker[AsyncSession]) -> int:
        async with session_factory() as session:
            purged = await use_cases.purge_expired_idempotency_records(session, ttl=ttl)
        if purged:
            logger.info("purged expired idempotency records", count=purged)
        return purged

    return PeriodicJob(
        name="intake-idempotency-purge",
        interval_seconds=IDEMPOTENCY_PURGE_INTERVAL_SECONDS,
        run=purge,
    )


def occurrence_announcement_job(*, policy: OccurrencePolicy) -> PeriodicJob:
    """``ticket.occurred`` for the occurrences a storm's tail left unannounced."""

    async def announce(session_factory: async_sessionmaker[AsyncSession]) -> int:
        async with session_factory() as session:
            return await use_cases.announce_pending_occurrences(
                session, policy=policy, batch_size=ANNOUNCEMENT_BATCH_SIZE
            )

    low, high = ANNOUNCEMENT_CHECK_BOUNDS_SECONDS
    interval = policy.announce_interval.total_seconds() / ANNOUNCEMENT_CHECKS_PER_INTERVAL
    return PeriodicJob(
        name="intake-occurrence-announcements",
        interval_seconds=min(high, max(low, interval)),
        run=announce,
        batch_size=ANNOUNCEMENT_BATCH_SIZE,
    )


def auto_close_job(*, closes_after: timedelta) -> PeriodicJob:
    """``ticket.closed`` (reason ``auto_closed``) for tickets resolved ``closes_after`` ago."""

    async def close(session_factory: async_sessionmaker[AsyncSession]) -> int:
        async with session_factory() as session:
            closed = await auto_close.close_due_tickets(
                session, closes_after=closes_after, batch_size=AUTO_CLOSE_BATCH_SIZE
            )
        if closed:
            logger.info("closed resolved tickets", count=closed)
        return closed

    return PeriodicJob(
        name="intake-auto-close",
        interval_seconds=AUTO_CLOSE_INTERVAL_SECONDS,
        run=close,
        batch_size=AUTO_CLOSE_BATCH_SIZE,
    )


def monitor_deadline_job(
    *, policy: OccurrencePolicy, interval_seconds: float, batch_size: int
) -> PeriodicJob:
    """Heartbeat deadlines: misses and runs past their maximum runtime (a durable timer)."""

    async def evaluate(session_factory: async_sessionmaker[AsyncSession]) -> int:
        return await rounds.heartbeat_round(
            session_factory, now=utc_now(), limit=batch_size, policy=policy
        )

    return PeriodicJob(
        name="intake-monitor-deadlines",
        interval_seconds=interval_seconds,
        run=evaluate,
        batch_size=batch_size,
    )


def uptime_probe_job(
    *,
    prober: Prober,
    policy: OccurrencePolicy,
    interval_seconds: float,
    batch_size: int,
    concurrency: int,
) -> PeriodicJob:
    """Uptime probes that are due: claimed (SKIP LOCKED), probed concurrently, recorded."""
    in_flight = asyncio.Semaphore(concurrency)

    async def probe_due(session_factory: async_sessionmaker[AsyncSession]) -> int:
        return await rounds.probe_round(
            session_factory,
            prober=prober,
            now=utc_now(),
            limit=batch_size,
            concurrency=in_flight,
            policy=policy,
        )

    return PeriodicJob(
        name="intake-uptime-probes",
        interval_seconds=interval_seconds,
        run=probe_due,
        batch_size=batch_size,
    )
