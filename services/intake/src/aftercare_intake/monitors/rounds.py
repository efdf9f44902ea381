"""One round of each monitor timer, at an explicit ``now`` (the periodic jobs pass
``utc_now()``; tests drive rounds at the instants they choose)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.monitors import service
from aftercare_intake.monitors.probes import Prober
from aftercare_shared.clock import utc_now


async def heartbeat_round(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    limit: int,
    policy: OccurrencePolicy,
) -> int:
    async with session_factory() as session:
        return await service.evaluate_due_heartbeats(session, now=now, limit=limit, policy=policy)


async def probe_round(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    prober: Prober,
    now: datetime,
    limit: int,
    concurrency: asyncio.Semaphore,
    policy: OccurrencePolicy,
) -> int:
    """Claim the due probes (committed first), probe them concurrently, record each."""
    async with session_factory() as session:
        orders = await service.claim_due_probes(session, now=now, limit=limit)

    async def probe_one(order: service.ProbeOrder) -> None:
        async with concurrency:
            result = await prober.probe(order, started_at=utc_now())
        async with session_factory() as session:
            await service.record_probe(
                session, monitor_id=order.monitor_id, result=result, now=utc_now(), policy=policy
            )

    await asyncio.gather(*(probe_one(order) for order in orders))
    return len(orders)
