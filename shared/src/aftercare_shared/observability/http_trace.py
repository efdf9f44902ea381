"""ASGI middleware: every request runs inside the caller's trace (or a new one)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aftercare_shared.observability.tracing import bind_traceparent, clear_trace


class TraceparentMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                incoming = value.decode("latin-1")
                break
        traceparent = bind_traceparent(incoming)

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"traceparent", traceparent.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            clear_trace()
