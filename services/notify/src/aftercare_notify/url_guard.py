"""Resolve a webhook host and vet every address it resolves to (see ``domain.ssrf``).

Run at endpoint creation and again before every delivery, so a name that later starts
resolving to an internal address (DNS rebinding) is refused when it matters. The sender
then connects to one of the vetted addresses — never resolving the name a second time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aftercare_notify.domain.ssrf import (
    IPAddress,
    IPNetwork,
    SsrfRefused,
    WebhookTarget,
    check_addresses,
    parse_webhook_url,
)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""Host name and port → every address it resolves to, in preference order."""


class HostUnresolvable(Exception):  # noqa: N818 - reads as "the host is unresolvable"
    """DNS gave no answer for the host (not an SSRF refusal: it may resolve later)."""


@dataclass(frozen=True, slots=True)
class VettedTarget:
    target: WebhookTarget
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
    """Decides whether a webhook URL may be called right now, and at which addresses."""

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
        target = parse_webhook_url(url)
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


__all__ = ["HostUnresolvable", "Resolver", "SsrfRefused", "UrlGuard", "VettedTarget"]
