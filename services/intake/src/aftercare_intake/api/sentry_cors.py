"""Adds CORS headers to every answer of the Sentry routes an allowed origin may read.

A route decides (the project's ``allowed_origins``) and marks the request; this
middleware, outside the problem handlers, puts the headers on whatever answer goes out —
the 429 an SDK must read to back off as much as the 200.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aftercare_intake.api.sentry import CORS_ORIGIN_STATE
from aftercare_intake.sentry import cors

SENTRY_PREFIX = "/api/"


class SentryCorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(SENTRY_PREFIX):
            await self.app(scope, receive, send)
            return

        # The request's state dict, created here so every layer below shares this one.
        state = scope.setdefault("state", {})

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                origin = state.get(CORS_ORIGIN_STATE)
                if origin is not None:
                    headers = MutableHeaders(scope=message)
                    for name, value in cors.response_headers(origin).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_cors)
