"""Resolve a target host and vet every address it resolves to (:mod:`aftercare_shared.ssrf`).

Run when a URL is registered and again before every call (delivery, probe), so a name
that later starts resolving to an internal address (DNS rebinding) is refused when it
matters. The caller then connects to one of the vetted addresses — never resolving the
name a second time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore

from aftercare_shared.ssrf import (
    HttpTarget,
    IPAddress,
    IPNetwork,
    SsrfRefused,
    check_addresses,
    parse_target_url,
)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""Host name and port → every address it resolves to, in preference order."""


class HostUnresolvable(Exception):  # noqa: N818 - reads as "the host is unresolvable"
    """DNS gave no answer for the host (not an SSRF refusal: it may resolve later)."""


@dataclass(frozen=True, slots=True)
class VettedTarget:
    target: HttpTarget
    addresses: tuple[IPAddress, ...]


async def resolve_with_system_dns(host: str, port: int) -> list[IPAddress]:
    """The operating system's resolver (getaddrinfo), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in answers:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class UrlGuard:
    """Decides whether a target URL may be called right now, and at which addresses."""

    def __init__(
        self,
        *,
        allowlist: Sequence[IPNetwork],
        dns_timeout_seconds: float,
        resolver: Resolver = resolve_with_system_dns,
    ) -> None:
        self._allowlist = tuple(allowlist)
        self._dns_timeout_seconds = dns_timeout_seconds
        self._resolver = resolver

    async def vet(self, url: str) -> VettedTarget:
        """Raise :class:`SsrfRefused` or :class:`HostUnresolvable`, else where to connect."""
        target = parse_target_url(url)
        addresses = await self._addresses_of(target.host, target.port)
        check_addresses(target.host, addresses, self._allowlist)
        return VettedTarget(target=target, addresses=tuple(addresses))

    async def vet_host(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """Every address ``host`` resolves to right now, all vetted; else raise.

        The delivery client calls this each time it opens a connection, so a name
        rebound to an internal address is refused before anything connects to it.
        """
        addresses = await self._addresses_of(host, port)
        check_addresses(host, addresses, self._allowlist)
        return tuple(addresses)

    async def _addresses_of(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(self._dns_timeout_seconds):
                addresses = await self._resolver(host, port)
        except TimeoutError:
            raise HostUnresolvable(
                f"resolving {host} took longer than {self._dns_timeout_seconds:g} s"
            ) from None
        except (OSError, UnicodeError) as error:
            raise HostUnresolvable(f"{host} does not resolve ({error})") from None
        if not addresses:
            raise HostUnresolvable(f"{host} resolves to no address")
        return addresses


class VettingNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend: connects only to addresses the guard vetted,
    resolving the name at connect time (a rebound name is caught on a new connection).

    ``inner`` connects to a vetted address (httpcore's anyio backend unless given)."""

    def __init__(
        self, guard: UrlGuard, *, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.vet_host(host, port)
        last_error: Exception | None = None
        # Every address passed; try them in resolver order, as a browser would.
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        raise last_error or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never a target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


__all__ = [
    "HostUnresolvable",
    "Resolver",
    "SsrfRefused",
    "UrlGuard",
    "VettedTarget",
    "VettingNetworkBackend",
]
