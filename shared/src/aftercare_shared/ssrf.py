"""Server-side request forgery rules for URLs a user chooses and a service fetches.

One implementation for every outbound call to a user's URL: notify's webhook and chat
deliveries, intake's uptime probes. Such a URL is fetched from inside our network, so it must not
reach anything that is not on the public internet: loopback, private ranges, link-local
(where cloud metadata services live), multicast, reserved or unspecified addresses. An
allowlist of CIDRs admits exceptions (tests, an on-premises receiver). The checks here
are pure; resolving host names is :mod:`aftercare_shared.url_guard`'s job, done again for
every call.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Instance metadata services hand out cloud credentials: the classic SSRF prize. Most sit
# in ranges refused anyway; naming them gives a clearer error and documents the intent.
CLOUD_METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6 metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)

# IPv6 forms that carry an IPv4 address inside; the embedded one is what gets reached.
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")


class SsrfRefused(ValueError):  # noqa: N818 - reads as "the request was refused"
    """The URL, or an address its host resolves to, may not be called."""


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """A target URL taken apart: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path_and_query: str

    @property
    def is_ip_literal(self) -> bool:
        return _parse_ip(self.host) is not None

    def url_for_address(self, address: IPAddress) -> str:
        """The same URL with the host replaced by one vetted address (pinning)."""
        literal = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{literal}:{self.port}{self.path_and_query}"

    @property
    def host_header(self) -> str:
        """The Host header the receiver expects (port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_target_url(url: str) -> HttpTarget:
    """Check the URL's shape (scheme, no credentials, a host, a valid port)."""
    if any(char in url for char in string.whitespace) or not url.isprintable():
        raise SsrfRefused("the URL contains whitespace or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise SsrfRefused("only http and https URLs are allowed")
    if "@" in parts.netloc:
        raise SsrfRefused("credentials in the URL are not allowed")
    if not parts.hostname:
        raise SsrfRefused("the URL has no host")
    try:
        port = parts.port if parts.port is not None else DEFAULT_PORTS[scheme]
    except ValueError:
        raise SsrfRefused("the URL's port is not a number between 0 and 65535") from None
    if port == 0:
        raise SsrfRefused("port 0 cannot be called")
    host = parts.hostname.rstrip(".")
    if _parse_ip(host) is None:
        try:
            # The ASCII (punycode) form is what DNS and the Host header use.
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise SsrfRefused("the URL's host name is not a valid domain name") from None
    if not host:
        raise SsrfRefused("the URL has no host")
    path = parts.path or "/"
    path_and_query = f"{path}?{parts.query}" if parts.query else path
    return HttpTarget(scheme=scheme, host=host, port=port, path_and_query=path_and_query)


def parse_allowlist(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1/128"`` → networks; raises ValueError naming a bad entry."""
    networks: list[IPNetwork] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"SSRF allowlist entry {entry!r} is not a CIDR") from None
    return tuple(networks)


def _translated_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address merely stands for (IPv4-mapped, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses a tunnelling IPv6 address (6to4, Teredo) leads to."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    tunnelled: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        tunnelled.append(address.sixtofour)
    if address.teredo is not None:
        tunnelled.extend(address.teredo)
    return tunnelled


def _own_refusal_reason(address: IPAddress) -> str | None:
    # Order matters only for the message: the most specific reason first.
    if address in CLOUD_METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be called (ignoring any allowlist), or None when it may."""
    if address in CLOUD_METADATA_ADDRESSES:
        return "a cloud metadata address"
    # A mapped/NAT64 address reaches exactly its IPv4 address: judge that one alone.
    translated = _translated_ipv4(address)
    if translated is not None:
        inner_reason = _own_refusal_reason(translated)
        if inner_reason is None:
            return None
        return f"an IPv6 address embedding {translated}, {inner_reason}"
    reason = _own_refusal_reason(address)
    if reason is not None:
        return reason
    for inner in _tunnelled_ipv4(address):
        inner_reason = _own_refusal_reason(inner)
        if inner_reason is not None:
            return f"an IPv6 address embedding {inner}, {inner_reason}"
    return None


def is_allowlisted(address: IPAddress, allowlist: Iterable[IPNetwork]) -> bool:
    """Whether the allowlist admits ``address`` (an IPv4-mapped IPv6 form counts as IPv4)."""
    forms: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        forms.append(address.ipv4_mapped)
    return any(form in network for form in forms for network in allowlist)


def check_addresses(
    host: str, addresses: Sequence[IPAddress], allowlist: Sequence[IPNetwork]
) -> None:
    """Refuse unless EVERY address is callable: one bad answer is enough to say no.

    Checking all of them (not just the one we would use) stops a name that resolves to
    a public and a private address from being half-trusted.
    """
    if not addresses:
        raise SsrfRefused(f"{host} does not resolve to any address")
    for address in addresses:
        if is_allowlisted(address, allowlist):
            continue
        reason = refusal_reason(address)
        if reason is not None:
            subject = host if host == str(address) else f"{host} resolves to {address}, which"
            raise SsrfRefused(f"{subject} is {reason}; not allowed as a target")
