"""A standby relay's NOTIFY to the leader: after the commits, one for a burst of them.

Why this exists: with two replicas (or uvicorn ``--workers 2``) half the commits happen in
a process whose relay stands by. Each of them used to send ``pg_notify`` in its own
transaction, and a notifying commit holds Postgres's one server-wide notification-queue
lock through its WAL flush: those commits were serialised (no group commit), each woke the
leader for a batch of one or two rows, and Postgres's CPU per report rose by half with two
workers while the peers' did not. Here the standby sends the NOTIFY itself, on a
connection of its own, after the commits it was told about (:func:`wake.committed`), at
most one at a time and one per :data:`COALESCE_SECONDS`: the hot transactions send none,
and the leader wakes once for a burst. A NOTIFY that fails (the database away) is not
retried: the leader's poll is the safety net, as for every lost wake-up.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare_shared.outbox.tables import outbox_notify_channel

logger = structlog.get_logger(__name__)

COALESCE_SECONDS = 0.005
"""At most one NOTIFY per this interval (commits meanwhile share the next one): a few
milliseconds on the wake-up, a notification-queue commit per burst instead of per report."""


class StandbyNotifier:
    """NOTIFYs ``schema``'s leading relay when asked (:meth:`request`), coalescing."""

    def __init__(self, engine: AsyncEngine, schema: str) -> None:
        self._engine = engine
        self._notify = select(func.pg_notify(outbox_notify_channel(schema), ""))
        self._pending = False
        self._closing = False
        self._asked = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def request(self) -> None:
        """A commit added outbox rows: NOTIFY the leader soon (on this loop; no await)."""
        self._pending = True
        self._asked.set()

    async def close(self) -> None:
        """Send what is pending, then stop."""
        self._closing = True
        self._asked.set()
        await self._task

    async def _run(self) -> None:
        while True:
            await self._asked.wait()
            self._asked.clear()
            if self._pending:
                self._pending = False
                await self._send()
            if self._closing:
                return
            await asyncio.sleep(COALESCE_SECONDS)

    async def _send(self) -> None:
        try:
            async with self._engine.connect() as connection:
                await connection.execute(self._notify)
                await connection.commit()
        except Exception:  # a lost wake-up: the leader's poll finds the rows anyway
            logger.debug("could not notify the leading outbox relay", exc_info=True)
