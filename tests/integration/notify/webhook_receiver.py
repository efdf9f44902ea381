"""A tiny real HTTP server on 127.0.0.1 that records webhooks and answers as scripted.

Built on ``asyncio.start_server`` (HTTP/1.1, one request per connection, Content-Length
bodies only — exactly what the notify sender produces).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReceivedWebhook:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float


@dataclass
class WebhookReceiver:
    """Answers the next scripted status (then ``default_status``) to every request."""

    default_status: int = 200
    response_body: bytes = b"thanks"
    response_delay_seconds: float = 0.0
    scripted_statuses: deque[int] = field(default_factory=deque)
    received: list[ReceivedWebhook] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer_next(self, *statuses: int) -> None:
        self.scripted_statuses.extend(statuses)

    async def wait_for(self, count: int, *, within_seconds: float = 15.0) -> list[ReceivedWebhook]:
        """Wait until at least ``count`` requests arrived (bounded), return them all."""
        async with asyncio.timeout(within_seconds):
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _version = request_line.split(" ", 2)
                headers: dict[str, str] = {}
                for line in header_lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
            status = self.scripted_statuses.popleft() if self.scripted_statuses else None
            status = status if status is not None else self.default_status
            async with self._arrived:
                self.received.append(ReceivedWebhook(method, path, headers, body, time.monotonic()))
                self._arrived.notify_all()
            if self.response_delay_seconds:
                await asyncio.sleep(self.response_delay_seconds)
            writer.write(
                f"HTTP/1.1 {status} Scripted\r\ncontent-length: {len(self.response_body)}\r\n"
                "content-type: text/plain\r\nconnection: close\r\n\r\n".encode()
                + self.response_body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
