"""One publishing relay per schema: a Postgres session-level advisory lock elects it.

The lock lives as long as the leader's connection. If that process dies or its connection
breaks, Postgres releases the lock and a standby takes over on its next try. The same
connection claims and marks rows, so a leader that lost its lock also loses the ability
to mark anything published.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aftercare_shared.outbox.tables import outbox_notify_channel

logger = structlog.get_logger(__name__)


class _ListeningConnection(Protocol):
    """The part of asyncpg's connection used here (asyncpg ships no type hints)."""

    async def add_listener(self, channel: str, callback: Callable[..., Any]) -> None: ...

    async def remove_listener(self, channel: str, callback: Callable[..., Any]) -> None: ...

    def add_termination_listener(self, callback: Callable[..., Any]) -> None: ...

    def remove_termination_listener(self, callback: Callable[..., Any]) -> None: ...


def relay_lock_key(schema: str) -> int:
    """The advisory lock id of ``schema``'s relay (stable across processes and versions)."""
    digest = hashlib.sha256(f"aftercare.outbox.relay:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _driver_connection(connection: AsyncConnection) -> _ListeningConnection:
    raw = await connection.get_raw_connection()
    driver: _ListeningConnection | None = raw.driver_connection
    if driver is None:
        raise RuntimeError("the relay's database connection is already closed")
    return driver


@asynccontextmanager
async def relay_leadership(
    engine: AsyncEngine, schema: str, *, on_wakeup: Callable[[], None]
) -> AsyncIterator[AsyncConnection | None]:
    """Yield a dedicated connection holding the lock, or ``None`` when another relay leads.

    While leading, ``on_wakeup`` is called for every NOTIFY on the schema's outbox channel
    and when the connection dies (so the relay notices at once instead of at its next poll).
    """
    lock_key = relay_lock_key(schema)
    connection = await engine.connect()
    try:
        acquired = bool(
            (await connection.execute(select(func.pg_try_advisory_lock(lock_key)))).scalar_one()
        )
        # End the implicit transaction: a session-level lock outlives it, and LISTEN below
        # must not wait for a commit to take effect.
        await connection.commit()
    except BaseException:
        await _discard(connection)
        raise
    if not acquired:
        await connection.close()
        yield None
        return

    channel = outbox_notify_channel(schema)

    def on_notify(*_: object) -> None:
        on_wakeup()

    try:
        driver = await _driver_connection(connection)
        driver.add_termination_listener(on_notify)
        await driver.add_listener(channel, on_notify)
        yield connection
        # The connection goes back to the pool: leave nothing of this relay attached to it.
        await driver.remove_listener(channel, on_notify)
        driver.remove_termination_listener(on_notify)
        await connection.execute(select(func.pg_advisory_unlock(lock_key)))
        await connection.commit()
    except BaseException:
        # Never hand a connection that may still hold the lock back to the pool.
        await _discard(connection)
        raise
    await connection.close()


async def _discard(connection: AsyncConnection) -> None:
    try:
        await connection.invalidate()
        await connection.close()
    except Exception:  # the connection is being thrown away; its errors tell us nothing new
        logger.debug("error while discarding a relay connection", exc_info=True)
