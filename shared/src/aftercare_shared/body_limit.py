"""Refuse request bodies over a size limit before any handler reads them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aftercare_shared.problems import problem_response


class BodyTooLarge(Exception):  # noqa: N818 - internal signal, never escapes the middleware
    pass


class BodySizeLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, own_limit_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Routes under these paths stream their bodies and enforce limits of their own
        # (intake's Sentry ingest: larger compressed envelopes, limits after decompression).
        self.own_limit_prefixes = own_limit_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.own_limit_prefixes):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        response_started = False

        # Chunked bodies carry no length: count as they arrive.
        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            f"The request body is larger than {self.max_body_bytes} bytes.",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
