"""HTTP for the URL channels: keep-alive per host, every new connection vetted (SSRF).

The exchange is aiohttp's (a C HTTP parser, a lean keep-alive pool): under a fan-out
burst the previous client's per-request pool bookkeeping and pure-Python HTTP parsing
were about a quarter of notify's CPU. Connections are pooled per origin (scheme, host,
port) and kept alive; the SSRF check sits where it matters, the moment a connection is
opened: the connector's resolver (:class:`VettingResolver`) resolves the name through
:class:`UrlGuard` and refuses unless every address passes, with aiohttp's DNS cache off
so every new connection asks again. A DNS answer that changes to an internal address
(rebinding) can therefore only reach a new connection, and a new connection is vetted
again. aiohttp skips the resolver for an IP-literal host, so those are vetted here when
a URL is first seen (an address cannot change). The URL aiohttp is given is rebuilt from
the vetted parse, so the host it connects to is the host that was vetted.

TLS is verified against the URL's host name, redirects are never followed (a 3xx is a
failed attempt), nothing is read from the environment (no proxies) and no cookie is
kept (one receiver's cookies never reach another).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from aftercare_notify.channels.vetting_resolver import VettingResolver
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.domain.retry_after import retry_after_seconds
from aftercare_shared.ssrf import HttpTarget, SsrfRefused, parse_target_url
from aftercare_shared.url_guard import HostUnresolvable, UrlGuard

USER_AGENT = "Aftercare-Webhooks/1.0"
# Answers whose wait we honour: the receiver is overloaded or rate-limiting us.
_RETRY_AFTER_STATUSES = frozenset({429, 503})
KEEPALIVE_EXPIRY_SECONDS = 30.0
# Reading this much of an answer we do not keep is cheaper than a new connection.
DRAIN_LIMIT_BYTES = 65_536
# An error kept with an attempt: aiohttp quotes what the receiver sent (a bad status line
# of up to 8 KiB), which is the receiver's text, not ours to store in full.
_ERROR_CHARS_KEPT = 300


# URLs whose parsed form is kept (a delivery worker sends to a few hundred endpoints).
_ROUTES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class _Route:
    url: URL
    headers: Mapping[str, str]


class GuardedHttpClient:
    """POSTs to vetted hosts over pooled connections; never raises for the receiver's doing.

    One connector for every host, holding at most ``connections_per_host`` connections
    per origin: a slow host queues its own requests and cannot take the others'.
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
        self._guard = guard
        self._timeout_seconds = timeout_seconds
        self._connect_timeout_seconds = min(connect_timeout_seconds, timeout_seconds)
        self._response_body_max_bytes = response_body_max_bytes
        self._connections_per_host = connections_per_host
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._session: aiohttp.ClientSession | None = None
        self._routes: dict[str, _Route] = {}

    async def aclose(self) -> None:
        session, self._session = self._session, None
        self._routes = {}
        if session is not None:
            await session.close()

    def _session_in_use(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp's connector belongs to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=VettingResolver(self._guard),
                use_dns_cache=False,  # resolve, and so vet, for every new connection
                limit=0,  # no global cap: the worker's delivery concurrency is that
                limit_per_host=self._connections_per_host,
                keepalive_timeout=KEEPALIVE_EXPIRY_SECONDS,
                ssl=self._ssl_context,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # The total is post()'s asyncio.timeout (one timer per attempt, not two);
                # opening a connection, TLS included, has its own shorter bound.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._connect_timeout_seconds
                ),
                trust_env=False,  # no proxy or netrc from the environment
                cookie_jar=aiohttp.DummyCookieJar(),
                # Uncompressed answers only: we keep the first bytes of a response, and
                # decompressing an unbounded stream to get them is a needless risk.
                auto_decompress=False,
            )
        return self._session

    async def _route_for(self, url: str) -> _Route:
        """The URL taken apart and its fixed headers; kept per URL (raises SsrfRefused).

        Only the URL's shape is kept (and an IP literal's verdict, which cannot change):
        every resolved address is still vetted when a connection opens.
        """
        route = self._routes.get(url)
        if route is None:
            target = parse_target_url(url)
            if target.is_ip_literal:
                await self._guard.vet_host(target.host, target.port)
            if len(self._routes) >= _ROUTES_KEPT:
                self._routes.clear()  # endpoints come and go; a bound, not an LRU
            route = self._routes[url] = _Route(
                url=_url_of(target),
                headers={
                    "Host": target.host_header,
                    "User-Agent": USER_AGENT,
                    "Accept-Encoding": "identity",
                },
            )
        return route

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        started = time.perf_counter()
        try:
            route = await self._route_for(url)
            # The attempt as a whole is bounded too: a receiver trickling its answer a
            # byte at a time cannot hold a connection forever.
            async with asyncio.timeout(self._timeout_seconds):
                return await self._exchange(route, headers, body, started)
        except SsrfRefused as refusal:
            return AttemptResult(None, None, None, f"ssrf: {refusal}")
        except HostUnresolvable as unresolvable:
            return AttemptResult(None, None, None, f"dns: {unresolvable}")
        # aiohttp's connect timeout is a TimeoutError too: it must be told apart first.
        except aiohttp.ConnectionTimeoutError:
            error = f"connect: no connection within {self._connect_timeout_seconds:g} s"
        except TimeoutError:
            error = f"timeout: no complete response within {self._timeout_seconds:g} s"
        except aiohttp.ClientConnectorError as connect_error:  # refused, TLS verification
            error = f"connect: {str(connect_error.os_error) or connect_error}"
        except aiohttp.ClientError as failure:
            error = f"http: {type(failure).__name__}: {failure}"
        return AttemptResult(
            None, _elapsed_ms(started), None, error[:_ERROR_CHARS_KEPT], unreachable=True
        )

    async def _exchange(
        self, route: _Route, headers: Mapping[str, str], body: bytes, started: float
    ) -> AttemptResult:
        async with self._session_in_use().post(
            route.url, headers={**route.headers, **headers}, data=body, allow_redirects=False
        ) as response:
            response_text = await self._read_prefix(response)
            status = response.status
            response_headers = response.headers
        latency_ms = _elapsed_ms(started)
        error = None
        if 300 <= status < 400:
            location = response_headers.get("location", "no location")
            error = f"redirect not followed: HTTP {status} to {location[:200]}"
        wait = None
        if status in _RETRY_AFTER_STATUSES:
            wait = retry_after_seconds(response_headers.get("retry-after"))
        return AttemptResult(status, latency_ms, response_text, error, retry_after_seconds=wait)

    async def _read_prefix(self, response: aiohttp.ClientResponse) -> str | None:
        # Keep the first bytes only. A short answer is read to its end, so the connection
        # goes back to the pool; a longer one is abandoned (the connection closed with
        # it): a receiver streaming gigabytes costs us nothing.
        limit = self._response_body_max_bytes
        collected = bytearray()
        read = 0
        while chunk := await response.content.readany():
            read += len(chunk)
            if len(collected) < limit:
                collected.extend(chunk[: limit - len(collected)])
            if read > max(limit, DRAIN_LIMIT_BYTES):
                response.close()
                break
        if limit == 0:
            return None
        return bytes(collected[:limit]).decode("utf-8", errors="replace")


def _url_of(target: HttpTarget) -> URL:
    """The URL aiohttp is given, rebuilt from the vetted parse (taken as already encoded).

    aiohttp connects to this URL's host: a second parser reading the user's text
    differently could otherwise connect somewhere the guard never looked.
    """
    host = f"[{target.host}]" if ":" in target.host else target.host
    rebuilt = URL(f"{target.scheme}://{host}:{target.port}{target.path_and_query}", encoded=True)
    if rebuilt.raw_host != target.host or rebuilt.port != target.port:
        raise SsrfRefused("the URL's host cannot be read unambiguously")
    return rebuilt


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
