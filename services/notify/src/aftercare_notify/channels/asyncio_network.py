"""httpcore's network layer on plain asyncio transports, for the delivery worker's pools.

Why not httpcore's default (anyio) backend: under a fan-out burst its per-call machinery
— a cancel scope for every read and write, a socket readability probe for every pooled
connection on every request — was about a quarter of notify's CPU (py-spy, benchmark 6).
Here a connection is an asyncio transport with a small protocol that buffers what
arrives: a read returns buffered bytes without arming a timer, and a timer is armed only
when there is something to wait for. Connecting, vetting and TLS are unchanged in
substance: :class:`aftercare_shared.url_guard.VettingNetworkBackend` still vets every
address before this backend connects to it, and TLS is verified against the host name
httpcore gives (the URL's).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any, cast

import httpcore

# Stop reading from the socket while this much is buffered and unread (the worker reads
# at most a short prefix of an answer; a receiver streaming more is throttled by TCP).
_HIGH_WATER_BYTES = 256 * 1024


class _BufferingProtocol(asyncio.Protocol):
    """Collects what arrives until read; tracks end of stream and write back-pressure."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports (the services' loop) do not
        # subclass asyncio's classes, though they are the same interface.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER_BYTES and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drain()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_drain(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_for_data(self, within: float | None) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        await _wait(self._waiter, within, httpcore.ReadTimeout)

    async def wait_for_drain(self, within: float | None) -> None:
        self._drain_waiter = asyncio.get_running_loop().create_future()
        await _wait(self._drain_waiter, within, httpcore.WriteTimeout)


async def _wait(
    waiter: asyncio.Future[None], within: float | None, on_timeout: type[Exception]
) -> None:
    if within is None:
        await waiter
        return
    try:
        async with asyncio.timeout(within):
            await waiter
    except TimeoutError as error:
        raise on_timeout(f"nothing within {within:g} s") from error


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _BufferingProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            await protocol.wait_for_data(timeout)
        if protocol.buffer:
            chunk = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if protocol.reading_paused and len(protocol.buffer) <= _HIGH_WATER_BYTES // 2:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return chunk
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""  # the peer closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if self._protocol.writing_paused:
            await self._protocol.wait_for_drain(timeout)
            if self._protocol.error is not None or self._transport.is_closing():
                raise httpcore.WriteError("the connection was lost while sending")

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    self._protocol,
                    ssl_context,
                    server_side=False,
                    server_hostname=server_hostname,
                )
        except TimeoutError as error:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout:g} s") from error
        except (OSError, ssl.SSLError) as error:  # SSLError (a failed verification) is one
            self._transport.close()
            raise httpcore.ConnectError(str(error)) from error
        return AsyncioStream(cast(asyncio.Transport, transport), self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # The transport reads eagerly: an idle kept-alive connection with bytes waiting
            # or closed by the peer shows it here (httpcore then opens a new one).
            return bool(self._protocol.buffer) or self._protocol.eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connects to an address (already vetted by the caller) over a plain asyncio transport."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _BufferingProtocol,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                )
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"no connection within {timeout:g} s") from error
        except OSError as error:
            raise httpcore.ConnectError(str(error) or type(error).__name__) from error
        raw: socket.socket | None = transport.get_extra_info("socket")
        if raw is not None:
            for option in socket_options or ():
                raw.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never a target")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
