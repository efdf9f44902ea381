"""SSRF rules: URL shape, address classification (IPv4 and IPv6), allowlist, DNS answers."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from aftercare_shared.ssrf import (
    IPAddress,
    SsrfRefused,
    check_addresses,
    is_allowlisted,
    parse_allowlist,
    parse_target_url,
    refusal_reason,
)
from aftercare_shared.url_guard import HostUnresolvable, Resolver, UrlGuard


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - the address under test, not a bind
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a globally routable"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "embedding 127.0.0.1, a loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("2002:7f00:1::", "embedding 127.0.0.1"),  # 6to4 around loopback
        ("64:ff9b::a9fe:a9fe", "embedding 169.254.169.254"),  # NAT64 around metadata
        ("64:ff9b::a00:1", "embedding 10.0.0.1, a private"),
    ],
)
def test_internal_addresses_are_refused(address: str, reason: str) -> None:
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "93.184.215.14",
        "::ffff:8.8.8.8",  # IPv4-mapped public address
        "64:ff9b::808:808",  # NAT64 of a public address
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_allowlist_admits_only_what_it_lists() -> None:
    allowlist = parse_allowlist("127.0.0.0/8, fd00:ec2::254/128")
    assert is_allowlisted(ipaddress.ip_address("127.0.0.1"), allowlist)
    assert is_allowlisted(ipaddress.ip_address("::ffff:127.0.0.1"), allowlist)
    assert is_allowlisted(ipaddress.ip_address("fd00:ec2::254"), allowlist)
    assert not is_allowlisted(ipaddress.ip_address("10.0.0.1"), allowlist)
    assert not is_allowlisted(ipaddress.ip_address("::1"), allowlist)
    check_addresses("127.0.0.1", [ipaddress.ip_address("127.0.0.1")], allowlist)
    with pytest.raises(SsrfRefused):
        check_addresses("169.254.169.254", [ipaddress.ip_address("169.254.169.254")], allowlist)


def test_empty_allowlist_and_bad_entries() -> None:
    assert parse_allowlist("") == ()
    assert parse_allowlist(" , ") == ()
    with pytest.raises(ValueError, match="not-a-cidr"):
        parse_allowlist("10.0.0.0/8,not-a-cidr")


def test_one_internal_answer_among_public_ones_is_enough_to_refuse() -> None:
    answers: list[IPAddress] = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.5")]
    with pytest.raises(SsrfRefused, match=r"hooks\.example resolves to 10\.0\.0\.5"):
        check_addresses("hooks.example", answers, ())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com", "only http and https"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://user@example.com/", "credentials"),
        ("https:///path", "no host"),
        ("https://example.com:99999/", "port"),
        ("https://example.com:0/", "port 0"),
        ("https://exa mple.com/", "whitespace"),
        ("https://example.com/\n", "whitespace"),
    ],
)
def test_url_shapes_that_are_refused(url: str, message: str) -> None:
    with pytest.raises(SsrfRefused, match=message):
        parse_target_url(url)


def test_url_parts_and_pinned_forms() -> None:
    target = parse_target_url("HTTPS://Hooks.Example.com./in?x=1")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert target.path_and_query == "/in?x=1"
    assert target.host_header == "hooks.example.com"
    assert target.url_for_address(ipaddress.ip_address("203.0.113.7")) == (
        "https://203.0.113.7:443/in?x=1"
    )
    assert target.url_for_address(ipaddress.ip_address("2001:db8::7")) == (
        "https://[2001:db8::7]:443/in?x=1"
    )
    ipv6 = parse_target_url("http://[2001:db8::1]:8080")
    assert ipv6.host == "2001:db8::1"
    assert ipv6.is_ip_literal
    assert ipv6.host_header == "[2001:db8::1]:8080"
    assert ipv6.path_and_query == "/"
    assert parse_target_url("https://bücher.example/").host == "xn--bcher-kva.example"


def _resolver(answers: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return [ipaddress.ip_address(answer) for answer in answers[host]]

    return resolve


async def test_guard_resolves_every_time_and_checks_every_answer() -> None:
    answers = {"hooks.example": ["93.184.215.14"]}
    guard = UrlGuard(allowlist=(), dns_timeout_seconds=1, resolver=_resolver(answers))
    vetted = await guard.vet("https://hooks.example/in")
    assert [str(address) for address in vetted.addresses] == ["93.184.215.14"]
    # The name now resolves to the metadata service (DNS rebinding): refused this time.
    answers["hooks.example"] = ["169.254.169.254"]
    with pytest.raises(SsrfRefused, match="cloud metadata"):
        await guard.vet("https://hooks.example/in")


async def test_guard_refuses_literals_and_localhost_without_allowlist() -> None:
    guard = UrlGuard(allowlist=(), dns_timeout_seconds=1, resolver=_resolver({}))
    for url in ("http://127.0.0.1:8000/", "http://[::1]/", "http://169.254.169.254/latest/"):
        with pytest.raises(SsrfRefused):
            await guard.vet(url)
    allowing = UrlGuard(
        allowlist=parse_allowlist("127.0.0.0/8"), dns_timeout_seconds=1, resolver=_resolver({})
    )
    await allowing.vet("http://127.0.0.1:8000/")


async def test_guard_reports_unresolvable_and_slow_dns() -> None:
    guard = UrlGuard(allowlist=(), dns_timeout_seconds=1, resolver=_resolver({}))
    with pytest.raises(HostUnresolvable, match="does not resolve"):
        await guard.vet("https://nowhere.example/")

    async def slow(host: str, port: int) -> list[IPAddress]:
        await asyncio.sleep(5)
        return []

    slow_guard = UrlGuard(allowlist=(), dns_timeout_seconds=0.05, resolver=slow)
    with pytest.raises(HostUnresolvable, match="longer than"):
        await slow_guard.vet("https://slow.example/")
