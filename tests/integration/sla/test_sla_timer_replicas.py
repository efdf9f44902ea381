"""At-risk and breach fire once with two timer workers at work and a third killed mid-batch.

The killed worker is a real process running the real timer round; it is SIGKILLed while
its batch is claimed and half announced. Its transaction dies with it (Postgres rolls it
back when the connection drops), so what it claimed is free again and the surviving
workers, claiming with ``FOR UPDATE SKIP LOCKED``, fire each timer exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.events import CloudEvent
from aftercare_sla.jobs import process_due_timers
from aftercare_sla.models import ClockTimer, outbox
from devkit.databases import create_migrated_database, drop_database
from tests.integration.sla.sla_support import (
    apply_events,
    client_with_plan,
    create_plan,
    targets,
    ticket_created,
)

pytestmark = pytest.mark.timeout(120)

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TICKETS = 60
LATER = T0 + timedelta(days=2)  # every timer is due
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, Sessions]]:
    url = await create_migrated_database("sla", prefix="slatimers")
    engine = create_engine(url, pool_size=4, application_name="aftercare-sla-test")
    try:
        yield url, create_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(url)


async def outbox_events(sessions: Sessions) -> list[CloudEvent]:
    async with sessions() as session:
        payloads = (await session.scalars(select(outbox.c.payload))).all()
    return [CloudEvent.from_json_bytes(bytes(payload)) for payload in payloads]


async def pending(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ClockTimer)) or 0)


async def drain(sessions: Sessions) -> int:
    """A timer worker: rounds of small batches until nothing is due."""
    fired = 0
    while handled := await process_due_timers(sessions, now=LATER, batch_size=7):
        fired += handled
    return fired


async def test_timers_fire_once_across_concurrent_workers_and_a_killed_one(
    database: tuple[str, Sessions],
) -> None:
    url, sessions = database
    plan_id = await create_plan(sessions, targets(60, 480), at_risk_ratio=0.5)
    client_id = await client_with_plan(sessions, plan_id)
    await apply_events(sessions, *(ticket_created(client_id, T0) for _ in range(TICKETS)))
    assert await pending(sessions) == TICKETS * 4  # at-risk and breach for two clocks each
    started = len(await outbox_events(sessions))

    victim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.sla_timer_worker",
        url,
        LATER.isoformat(),
        "40",  # claims the 40 earliest timers...
        "15",  # ...and dies after announcing 15 of them
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        stdout=asyncio.subprocess.PIPE,
    )
    assert victim.stdout is not None
    assert await asyncio.wait_for(victim.stdout.readline(), timeout=60) == b"mid-batch\n"

    # Two workers drain everything the victim does not hold, side by side, without
    # waiting for it: its 40 timers and the other timers of the clocks it has locked stay.
    first, second = await asyncio.gather(drain(sessions), drain(sessions))
    held = await pending(sessions)
    assert first + second + held == TICKETS * 4
    assert first > 0
    assert second > 0
    assert 40 <= held < TICKETS * 4

    victim.send_signal(signal.SIGKILL)
    assert await victim.wait() == -signal.SIGKILL
    # Its transaction is rolled back once Postgres sees the connection gone.
    for _ in range(100):
        if await drain(sessions) or not await pending(sessions):
            break
        await asyncio.sleep(0.1)
    await drain(sessions)
    assert await pending(sessions) == 0

    fired = [
        (event.short_type, event.data["ticket_id"], event.data["metric"])
        for event in (await outbox_events(sessions))
        if event.short_type in ("sla.at_risk", "sla.breached")
    ]
    assert len(await outbox_events(sessions)) - started == len(fired)
    counts = Counter(fired)
    assert max(counts.values()) == 1  # nothing fired twice
    breached = [key for key in counts if key[0] == "sla.breached"]
    assert len(breached) == TICKETS * 2  # every clock breached, once
