"""A real HTTP webhook receiver on 127.0.0.1, as an integrator's endpoint would be.

Built on ``asyncio.start_server`` (HTTP/1.1 with keep-alive unless ``keep_alive`` is off,
Content-Length bodies: what notify's sender produces), so it costs little beside a
benchmark's load. ``connections`` counts the TCP connections it accepted.
It answers scripted statuses (then ``default_status``), may delay its answers, and —
once given the endpoint's ``secret`` with ``verify_signatures`` — checks every delivery
with the official ``standardwebhooks`` package, refusing (400) and recording any that
does not verify.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class ReceivedWebhook:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    """Wall-clock seconds (``time.time()``), comparable with a sender's timestamps."""
    event: dict[str, Any]
    """The body as JSON, parsed once on arrival (``{}`` when it is not a JSON object):
    a benchmark scans thousands of these many times a second."""
    sender_port: int = 0
    """The sender's TCP port: tells which process sent it (0 when unknown)."""

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


def _parsed(body: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


@dataclass
class WebhookReceiver:
    default_status: int = 200
    response_body: bytes = b"thanks"
    response_delay_seconds: float = 0.0
    verify_signatures: bool = False
    secret: str | None = None
    """Until it is set, a verifying receiver answers 503 (the endpoint is not ready)."""
    path: str = "/hooks"
    keep_alive: bool = True
    response_headers: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    scripted_statuses: deque[int] = field(default_factory=deque)
    received: list[ReceivedWebhook] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self, port: int = 0) -> None:
        """Listen on ``port`` (0: any free one); a restarted receiver may take its old one."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def answer_next(self, *statuses: int) -> None:
        self.scripted_statuses.extend(statuses)

    async def wait_for(self, count: int, *, within_seconds: float = 15.0) -> list[ReceivedWebhook]:
        """Wait until at least ``count`` requests arrived (bounded), return them all."""
        async with asyncio.timeout(within_seconds):
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)

    def types(self) -> list[str]:
        return [str(item.event["type"]) for item in self.received]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [item.event for item in self.received if item.event["type"] == event_type]

    def _answer_for(self, headers: dict[str, str], body: bytes) -> int | None:
        """The status a verification failure forces, or None to answer as scripted."""
        if not self.verify_signatures:
            return None
        if self.secret is None:
            return 503
        try:
            Webhook(self.secret).verify(body, headers)
        except Exception as error:  # any verification failure is recorded and refused
            self.rejected.append(f"{type(error).__name__}: {error}")
            return 400
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self._serve_one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; True when the connection stays open for another."""
        peer = writer.get_extra_info("peername")
        head = await reader.readuntil(b"\r\n\r\n")  # an idle kept-alive client may wait
        async with asyncio.timeout(10):
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _version = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        status = self._answer_for(headers, body)
        if status is None:
            scripted = self.scripted_statuses.popleft() if self.scripted_statuses else None
            status = scripted if scripted is not None else self.default_status
            async with self._arrived:
                self.received.append(
                    ReceivedWebhook(
                        method,
                        path,
                        headers,
                        body,
                        time.time(),
                        _parsed(body),
                        int(peer[1]) if peer else 0,
                    )
                )
                self._arrived.notify_all()
        if self.response_delay_seconds:
            await asyncio.sleep(self.response_delay_seconds)
        keep_alive = self.keep_alive and headers.get("connection", "").lower() != "close"
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.response_headers.items())
        # A 204 or 304 has no content (RFC 9110): bytes sent after one would be read by
        # the client as the start of the next response on the connection.
        body = b"" if status in (204, 304) else self.response_body
        framing = "" if status in (204, 304) else f"content-length: {len(body)}\r\n"
        writer.write(
            f"HTTP/1.1 {status} Scripted\r\n{framing}"
            f"content-type: text/plain\r\n{extra}"
            f"connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        return keep_alive
