"""``notify_on_commit`` (real Postgres): one NOTIFY per channel per transaction, never lost.

It skips the statement when the transaction already sent it; a savepoint rolled back takes
its NOTIFY with it, so the next call in the outer transaction must send it again, and a new
transaction on the same session must send its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare_shared.wakeup import notify_on_commit
from tests.support.infra import unique_name, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

END = "end"


async def test_each_committed_transaction_notifies_once_even_after_a_rolled_back_savepoint(
    engine: AsyncEngine,
) -> None:
    channel = unique_name("wake")
    received: list[str] = []

    def on_notify(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        received.append(payload)

    async with engine.connect() as listener:
        driver: Any = (await listener.get_raw_connection()).driver_connection
        await driver.add_listener(channel, on_notify)
        async with AsyncSession(engine) as session:
            async with session.begin():  # twice in one transaction: one statement, one NOTIFY
                await notify_on_commit(session, channel)
                await notify_on_commit(session, channel)
            async with session.begin():  # the same session's next transaction sends its own
                savepoint = await session.begin_nested()
                await notify_on_commit(session, channel)
                await savepoint.rollback()  # ... undone here
                await notify_on_commit(session, channel)  # so sent again
            async with session.begin():  # rolled back: nothing
                await notify_on_commit(session, channel)
                await session.rollback()
        # A marker after them: once it is here, every earlier commit's NOTIFY is too.
        async with engine.begin() as connection:
            await connection.execute(
                select(text("pg_notify(:channel, :marker)")), {"channel": channel, "marker": END}
            )

        async def marker_arrived() -> bool:
            return END in received

        await wait_until(marker_arrived, within=10, message="the marker NOTIFY")
        await driver.remove_listener(channel, on_notify)
    assert received == ["", "", END]
