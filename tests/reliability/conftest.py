"""Fixtures the platform's reliability tests share: an engine on the test database and a
fresh schema holding the outbox and inbox, made (and dropped) by the real migration helper.

A module that needs tables of its own next to them overrides ``schema`` and requests it:
``async def schema(schema: str, engine: AsyncEngine)`` adds them to the same schema, and
the schema's drop takes them along.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.support.infra import (
    create_messaging_schema,
    database_url,
    drop_messaging_schema,
    unique_name,
)


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url(), pool_size=10)
    yield engine
    await engine.dispose()


@pytest.fixture
async def schema(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[str]:
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = unique_name(module)
    await create_messaging_schema(engine, name)
    yield name
    await drop_messaging_schema(engine, name)
