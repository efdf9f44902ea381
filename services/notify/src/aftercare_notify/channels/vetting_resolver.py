"""aiohttp's DNS seam for the delivery client: a host's addresses, every one vetted.

aiohttp asks its connector's resolver for a host's addresses each time it opens a
connection (the client turns aiohttp's DNS cache off), so vetting here is vetting at
connect time: a name rebound to an internal address can only ever reach a new
connection, and this refuses it (:class:`aftercare_shared.ssrf.SsrfRefused`) before
anything connects. Resolution itself is :class:`UrlGuard`'s (its resolver and timeout),
so the tests' scripted DNS and the services' system DNS are the same seam as before.
aiohttp never asks a resolver about an IP-literal host: the client vets those itself.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from aftercare_shared.url_guard import UrlGuard


class VettingResolver(AbstractResolver):
    def __init__(self, guard: UrlGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # Raises SsrfRefused or HostUnresolvable: neither is an OSError, so aiohttp lets
        # them through unwrapped and the client reports them as ssrf: / dns:.
        addresses = await self._guard.vet_host(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None
