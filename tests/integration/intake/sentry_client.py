"""The official ``sentry-sdk`` switched on for one block, as an app would initialise it.

Only what the tests send is enabled (no default or auto-enabled integrations): those patch
asyncpg, SQLAlchemy, Starlette, httpx and threads for the rest of the process, and every
later test in this pytest run would then run on patched libraries. Leaving the block puts a
non-recording client back instead of calling ``init()`` again, which would install them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sentry_sdk


@contextmanager
def sentry(dsn: str, **options: Any) -> Iterator[sentry_sdk.Client]:
    sentry_sdk.init(
        dsn=dsn, default_integrations=False, auto_enabling_integrations=False, **options
    )
    client = sentry_sdk.get_client()
    assert isinstance(client, sentry_sdk.Client)
    try:
        yield client
    finally:
        client.flush(timeout=15)
        client.close(timeout=15)
        sentry_sdk.get_global_scope().set_client(None)
