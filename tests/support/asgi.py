"""Talk to a service's ASGI app in process, over httpx, with or without its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

SHUTDOWN_TIMEOUT_SECONDS = 60


@asynccontextmanager
async def asgi_client(app: FastAPI, base_url: str = "http://t") -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app whose lifespan the caller runs."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url
    ) as client:
        yield client


@asynccontextmanager
async def serving(
    app: FastAPI, base_url: str = "http://t", *, startup_timeout: float = 60
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (engine, relay, consumers, workers) and yield a client for it."""
    async with (
        LifespanManager(
            app,
            startup_timeout=startup_timeout,
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        ),
        asgi_client(app, base_url) as client,
    ):
        yield client
