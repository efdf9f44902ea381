"""Wake a background worker the moment work commits, with Postgres LISTEN/NOTIFY.

A writer calls :func:`notify_on_commit` in its transaction; Postgres delivers the NOTIFY
only if and when that transaction commits. The worker keeps polling as a fallback, so a
lost listener connection only costs latency, never work.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy import Text, bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

logger = structlog.get_logger(__name__)

RECONNECT_DELAY_SECONDS = 2.0


# Built once: a consumer notifies for every event it fans out.
_NOTIFY = select(func.pg_notify(bindparam("channel", type_=Text), literal("", Text)))
# Session.info key: channel -> the transaction that already notified it.
_NOTIFIED = "aftercare_wakeup_notified"


async def notify_on_commit(session: AsyncSession, channel: str) -> None:
    """NOTIFY ``channel`` when the session's transaction commits; once per transaction.

    Postgres folds identical notifications of one transaction into one anyway, so a
    batch of events applied in one transaction needs one statement, not one per event.
    Keyed by the innermost transaction: a savepoint rolled back takes its NOTIFY with it,
    so the next one notifies again.
    """
    sync_session = session.sync_session
    transaction = sync_session.get_nested_transaction() or sync_session.get_transaction()
    notified: dict[str, object] = session.info.setdefault(_NOTIFIED, {})
    if transaction is not None and notified.get(channel) is transaction:
        return
    await session.execute(_NOTIFY, {"channel": channel})
    # The transaction the statement ran in (it may have begun one): kept, not just its
    # id, so a later transaction can never be mistaken for it.
    notified[channel] = sync_session.get_nested_transaction() or sync_session.get_transaction()


class CommitWakeup:
    """Sets ``event`` on every NOTIFY on ``channel`` while ``run()`` is going."""

    def __init__(self, engine: AsyncEngine, channel: str) -> None:
        self._engine = engine
        self._channel = channel
        self.event = asyncio.Event()
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self._listen_until_lost()
            except Exception:
                logger.warning("wake-up listener lost; polling meanwhile", channel=self._channel)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), RECONNECT_DELAY_SECONDS)

    def stop(self) -> None:
        self._stopped.set()

    async def _listen_until_lost(self) -> None:
        lost = asyncio.Event()

        def on_notify(*_: Any) -> None:
            self.event.set()

        def on_terminated(*_: Any) -> None:
            lost.set()
            self.event.set()  # let the worker poll once at once instead of waiting

        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            driver.add_termination_listener(on_terminated)
            await driver.add_listener(self._channel, on_notify)
            try:
                stopped = asyncio.create_task(self._stopped.wait())
                gone = asyncio.create_task(lost.wait())
                await asyncio.wait({stopped, gone}, return_when=asyncio.FIRST_COMPLETED)
                for task in (stopped, gone):
                    task.cancel()
            finally:
                if not lost.is_set():
                    await driver.remove_listener(self._channel, on_notify)
                driver.remove_termination_listener(on_terminated)
                if lost.is_set():
                    await connection.invalidate()
