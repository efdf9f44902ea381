"""A real HTTP webhook receiver on 127.0.0.1 that verifies every delivery's signature
with the official ``standardwebhooks`` package, as an integrator's endpoint would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.service_processes import free_port


@dataclass
class ReceivedWebhook:
    webhook_id: str
    event: dict[str, Any]
    received_at: float


@dataclass
class WebhookReceiver:
    """Set ``secret`` once the endpoint exists; until then deliveries are answered 503."""

    port: int = field(default_factory=free_port)
    secret: str | None = None
    received: list[ReceivedWebhook] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        if self.secret is None:
            return Response(status_code=503)
        try:
            Webhook(self.secret).verify(body, dict(request.headers))
        except Exception as error:  # any verification failure is recorded and refused
            self.rejected.append(f"{type(error).__name__}: {error}")
            return Response(status_code=400)
        self.received.append(
            ReceivedWebhook(
                webhook_id=request.headers["webhook-id"],
                event=orjson.loads(body),
                received_at=time.time(),
            )
        )
        return Response(status_code=204)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hooks", self._handle, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def types(self) -> list[str]:
        return [item.event["type"] for item in self.received]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [item.event for item in self.received if item.event["type"] == event_type]
