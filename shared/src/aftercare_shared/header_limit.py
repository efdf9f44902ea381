"""Refuse requests whose headers are too large, with a 431 problem, before anything runs.

uvicorn's default HTTP parser (httptools) sets no limit on header size, and h11's
(``--h11-max-incomplete-event-size``, 16 KiB) answers a bare 400 text page. The platform
therefore counts the header block itself: names and values of every header, as the ASGI
scope carries them, against ``AFTERCARE_MAX_HEADER_BYTES``. Over it, the request gets an
RFC 9457 problem (431 Request Header Fields Too Large) and reaches no route, so nothing is
authenticated, read or stored.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from aftercare_shared.problems import problem_response

# Each header line also carries ": " and CRLF on the wire.
PER_HEADER_OVERHEAD = 4


def header_bytes(scope: Scope) -> int:
    return sum(
        len(name) + len(value) + PER_HEADER_OVERHEAD for name, value in scope.get("headers", ())
    )


class HeaderSizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_header_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or header_bytes(scope) <= self.max_header_bytes:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            431,
            f"The request headers are larger than {self.max_header_bytes} bytes in all.",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
