"""A plain outbox relay in a process of its own: the leader "on another replica".

``python -m tests.support.outbox_relay_process SCHEMA POLL_INTERVAL`` runs
:class:`~aftercare_shared.outbox.OutboxRelay` on ``SCHEMA``'s outbox against the test
stack (read from the environment, as the tests do), prints ``started`` and runs until
SIGTERM. With a long ``POLL_INTERVAL`` it publishes quickly only when a NOTIFY wakes it.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_shared.outbox import OutboxRelay
from devkit.databases import kafka_bootstrap_servers
from tests.support.crash_window_process import run_until_terminated
from tests.support.infra import database_url


async def relay_main(schema: str, poll_interval: float) -> None:
    engine = create_async_engine(database_url(), pool_size=2)
    relay = OutboxRelay(
        engine=engine,
        schema=schema,
        bootstrap_servers=kafka_bootstrap_servers(),
        poll_interval=poll_interval,
    )
    try:
        await run_until_terminated(relay)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    match sys.argv[1:]:
        case [schema, poll_interval]:
            asyncio.run(relay_main(schema, float(poll_interval)))
        case _:
            raise SystemExit(__doc__)
