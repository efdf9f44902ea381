"""HTTP for the URL channels: keep-alive per host, every new connection vetted (SSRF).

Why not a pinned IP per request, as before: pinning meant a fresh TCP (and TLS)
connection for every webhook, the largest single cost of a delivery. Here connections
are pooled per origin (scheme, host, port) and kept alive; the check moves to where it
matters, the moment a connection is opened. ``VettingNetworkBackend`` (in
``aftercare_shared.url_guard``) is the pool's network backend: asked to connect to
``host``, it resolves the name itself, refuses unless every address passes
:class:`UrlGuard`, and connects to a vetted address. A DNS answer that
changes to an internal address (rebinding) can therefore only reach a new connection,
and a new connection is vetted again. TLS is verified against the URL's host name (the
pool's origin), redirects are never followed (a 3xx is a failed attempt) and nothing is
read from the environment (no proxies).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpcore

from aftercare_notify.channels.asyncio_network import AsyncioBackend
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.domain.retry_after import retry_after_seconds
from aftercare_shared.ssrf import SsrfRefused, parse_target_url
from aftercare_shared.url_guard import HostUnresolvable, UrlGuard, VettingNetworkBackend

USER_AGENT = "Aftercare-Webhooks/1.0"
# Answers whose wait we honour: the receiver is overloaded or rate-limiting us.
_RETRY_AFTER_STATUSES = frozenset({429, 503})
KEEPALIVE_EXPIRY_SECONDS = 30.0
# Reading this much of an answer we do not keep is cheaper than a new connection.
DRAIN_LIMIT_BYTES = 65_536


# URLs whose parsed form is kept (a delivery worker sends to a few hundred endpoints).
_ROUTES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class _Route:
    pool: httpcore.AsyncConnectionPool
    headers: tuple[tuple[bytes, bytes], ...]


class GuardedHttpClient:
    """POSTs to vetted hosts over pooled connections; never raises for the receiver's doing.

    One pool per origin, each holding at most ``connections_per_host`` connections: a
    slow host queues its own requests and cannot take the connections of the others.
    """

    def __init__(
        self,
        *,
        guard: UrlGuard,
        timeout_seconds: float,
        connect_timeout_seconds: float,
        response_body_max_bytes: int,
        connections_per_host: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._backend = VettingNetworkBackend(guard, inner=AsyncioBackend())
        self._timeout_seconds = timeout_seconds
        self._timeouts = {
            "connect": min(connect_timeout_seconds, timeout_seconds),
            "read": timeout_seconds,
            "write": timeout_seconds,
            "pool": timeout_seconds,
        }
        self._response_body_max_bytes = response_body_max_bytes
        self._connections_per_host = connections_per_host
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._pools: dict[tuple[str, str, int], httpcore.AsyncConnectionPool] = {}
        self._routes: dict[str, _Route] = {}

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        self._routes = {}
        await asyncio.gather(*(pool.aclose() for pool in pools), return_exceptions=True)

    def _pool_for(self, scheme: str, host: str, port: int) -> httpcore.AsyncConnectionPool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context,
                max_connections=self._connections_per_host,
                keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
                network_backend=self._backend,
            )
        return pool

    def _route_for(self, url: str) -> _Route:
        """The URL taken apart, its pool and fixed headers; kept per URL (raises SsrfRefused).

        Only the URL's shape is kept: every address is still vetted when a connection opens.
        """
        route = self._routes.get(url)
        if route is None:
            target = parse_target_url(url)
            if len(self._routes) >= _ROUTES_KEPT:
                self._routes.clear()  # endpoints come and go; a bound, not an LRU
            route = self._routes[url] = _Route(
                pool=self._pool_for(target.scheme, target.host, target.port),
                headers=(
                    (b"host", target.host_header.encode()),
                    (b"user-agent", USER_AGENT.encode()),
                    # Uncompressed answers only: we keep the first bytes of a response,
                    # and decompressing an unbounded stream to get them is a needless risk.
                    (b"accept-encoding", b"identity"),
                ),
            )
        return route

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        try:
            route = self._route_for(url)
        except SsrfRefused as refusal:
            return AttemptResult(None, None, None, f"ssrf: {refusal}")
        request_headers = [
            *route.headers,
            *((name.encode(), value.encode()) for name, value in headers.items()),
        ]
        pool = route.pool
        started = time.perf_counter()
        try:
            # The attempt as a whole is bounded too: a receiver trickling its answer a
            # byte at a time cannot hold a connection forever.
            async with asyncio.timeout(self._timeout_seconds):
                return await self._exchange(pool, url, request_headers, body, started)
        except SsrfRefused as refusal:
            return AttemptResult(None, None, None, f"ssrf: {refusal}")
        except HostUnresolvable as unresolvable:
            return AttemptResult(None, None, None, f"dns: {unresolvable}")
        except TimeoutError:
            error = f"timeout: no complete response within {self._timeout_seconds:g} s"
        except httpcore.ConnectTimeout:
            error = f"connect: no connection within {self._timeouts['connect']:g} s"
        except httpcore.ConnectError as connect_error:
            error = f"connect: {connect_error or 'refused'}"
        except httpcore.TimeoutException as timeout:
            error = f"timeout: {type(timeout).__name__}"
        except (httpcore.NetworkError, httpcore.ProtocolError) as failure:
            error = f"http: {type(failure).__name__}: {failure}"
        return AttemptResult(None, _elapsed_ms(started), None, error, unreachable=True)

    async def _exchange(
        self,
        pool: httpcore.AsyncConnectionPool,
        url: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        started: float,
    ) -> AttemptResult:
        async with pool.stream(
            "POST", url, headers=headers, content=body, extensions={"timeout": self._timeouts}
        ) as response:
            response_text = await self._read_prefix(response)
            status = response.status
            response_headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in response.headers
            }
        latency_ms = _elapsed_ms(started)
        error = None
        if 300 <= status < 400:
            location = response_headers.get("location", "no location")
            error = f"redirect not followed: HTTP {status} to {location[:200]}"
        wait = None
        if status in _RETRY_AFTER_STATUSES:
            wait = retry_after_seconds(response_headers.get("retry-after"))
        return AttemptResult(status, latency_ms, response_text, error, retry_after_seconds=wait)

    async def _read_prefix(self, response: httpcore.Response) -> str | None:
        # Keep the first bytes only. A short answer is read to its end, so the connection
        # stays reusable; a longer one is abandoned (the connection with it): a receiver
        # streaming gigabytes costs us nothing.
        limit = self._response_body_max_bytes
        collected = bytearray()
        read = 0
        async for chunk in response.aiter_stream():
            read += len(chunk)
            if len(collected) < limit:
                collected.extend(chunk[: limit - len(collected)])
            if read > max(limit, DRAIN_LIMIT_BYTES):
                break
        if limit == 0:
            return None
        return bytes(collected[:limit]).decode("utf-8", errors="replace")


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
