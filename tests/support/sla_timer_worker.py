"""A real sla timer round in a process of its own, for the replica-killed-mid-batch test.

``python -m tests.support.sla_timer_worker DATABASE_URL NOW BATCH_SIZE STOP_AFTER`` runs
``process_due_timers`` once. After it has announced ``STOP_AFTER`` changes, the process
prints ``mid-batch`` and waits with its transaction open (timers claimed, clocks locked,
events in its uncommitted outbox rows) until the test SIGKILLs it: a replica that dies
half-way through a batch.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Any

from aftercare_shared.db import create_engine, create_session_factory
from aftercare_sla import jobs
from aftercare_sla.announcements import announce as real_announce


async def main(database_url: str, now: datetime, batch_size: int, stop_after: int) -> None:
    announced = 0

    async def announce_then_hang(*args: Any, **kwargs: Any) -> None:
        nonlocal announced
        await real_announce(*args, **kwargs)
        announced += 1
        if announced == stop_after:
            print("mid-batch", flush=True)
            await asyncio.sleep(3600)

    # The round's own announce, wrapped: everything else is the production code path.
    setattr(jobs, "announce", announce_then_hang)  # noqa: B010 - mypy: not a public name
    engine = create_engine(database_url, pool_size=1, application_name="sla-timer-victim")
    await jobs.process_due_timers(create_session_factory(engine), now=now, batch_size=batch_size)


if __name__ == "__main__":
    url, now, batch, stop = sys.argv[1:5]
    asyncio.run(main(url, datetime.fromisoformat(now), int(batch), int(stop)))
