"""One live stack (four uvicorn processes, two tenants) for the platform tests that need
real HTTP: started once for the package, on first use."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.platform.live_stack import LiveStack, live_stack


@pytest.fixture(scope="package")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveStack]:
    async with live_stack(tmp_path_factory.mktemp("live-stack")) as stack:
        yield stack
