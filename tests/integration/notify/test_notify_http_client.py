"""The URL channels' HTTP client (aiohttp) against a real local receiver: keep-alive per
host, every new connection vetted (DNS rebinding refused), IP literals vetted, signatures,
redirects, Retry-After, timeouts, long answers cut, proxies ignored, the per-host cap and
failover between vetted addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvloop
from standardwebhooks.webhooks import Webhook

from aftercare_notify.channels.http_client import GuardedHttpClient
from aftercare_notify.channels.webhook import WebhookChannel
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.domain.signing import generate_secret
from aftercare_notify.repository import ClaimedDelivery
from aftercare_shared.ssrf import IPAddress, parse_allowlist
from aftercare_shared.url_guard import UrlGuard
from devkit.webhook_receiver import WebhookReceiver
from tests.integration.notify.smtp_support import self_signed_certificate

BODY = b'{"specversion":"1.0","id":"evt-9"}'


class ScriptedDns:
    """A resolver whose answer the test changes between connections."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups += 1
        return [ipaddress.ip_address(answer) for answer in self.answers]


def _client(
    dns: ScriptedDns,
    *,
    timeout: float = 2.0,
    max_bytes: int = 1024,
    per_host: int = 4,
    allowlist: str = "127.0.0.0/8",
) -> GuardedHttpClient:
    guard = UrlGuard(allowlist=parse_allowlist(allowlist), dns_timeout_seconds=1, resolver=dns)
    return GuardedHttpClient(
        guard=guard,
        timeout_seconds=timeout,
        connect_timeout_seconds=1,
        response_body_max_bytes=max_bytes,
        connections_per_host=per_host,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver(response_body=b"ok " * 100)
    await server.start()
    yield server
    await server.stop()


def _delivery(url: str, secret: str) -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id="d1",
        claim_token="c",
        attempt_number=1,
        endpoint_id="e1",
        channel="webhook",
        url=url,
        address=None,
        secrets_in_use=(secret,),
        message_id="evt-9",
        event_type="aftercare.ticket.created.v1",
        body=BODY,
    )


async def test_a_signed_webhook_reaches_the_host_by_name_over_one_kept_alive_connection(
    receiver: WebhookReceiver,
) -> None:
    dns = ScriptedDns("127.0.0.1")
    client = _client(dns, max_bytes=10)
    secret = generate_secret()
    channel = WebhookChannel(client)
    url = f"http://hooks.test:{receiver.port}/hooks"
    try:
        first = await channel.send(_delivery(url, secret))
        second = await channel.send(_delivery(url, secret))
    finally:
        await client.aclose()
    assert first.succeeded
    assert second.succeeded
    assert first.response_body == "ok ok ok o"  # kept up to the configured size
    assert receiver.connections == 1  # the second request reused the connection
    assert dns.lookups == 1  # vetted when the connection opened, not per request
    request = receiver.received[0]
    assert request.headers["host"] == f"hooks.test:{receiver.port}"
    assert request.headers["content-type"] == "application/cloudevents+json"
    Webhook(secret).verify(request.body, request.headers)


async def test_a_new_connection_after_dns_rebinding_to_a_private_address_is_refused(
    receiver: WebhookReceiver,
) -> None:
    receiver.keep_alive = False  # every request needs a new connection
    dns = ScriptedDns("127.0.0.1")
    client = _client(dns)
    url = f"http://rebind.test:{receiver.port}/hooks"
    try:
        first = await client.post(url, {}, BODY)
        dns.answers = ["10.1.2.3"]  # the name now points inside the network
        second = await client.post(url, {}, BODY)
    finally:
        await client.aclose()
    assert first.succeeded
    assert not second.succeeded
    assert second.error is not None
    assert second.error.startswith("ssrf: ")
    assert len(receiver.received) == 1
    assert dns.lookups == 2


async def test_redirects_are_failed_attempts_and_not_followed(receiver: WebhookReceiver) -> None:
    receiver.default_status = 302
    receiver.response_headers = {"location": "http://169.254.169.254/"}
    client = _client(ScriptedDns("127.0.0.1"))
    try:
        result = await client.post(f"http://127.0.0.1:{receiver.port}/hooks", {}, BODY)
    finally:
        await client.aclose()
    assert not result.succeeded
    assert result.status_code == 302
    assert result.error is not None
    assert "redirect not followed" in result.error
    assert len(receiver.received) == 1


async def test_retry_after_is_read_from_a_429(receiver: WebhookReceiver) -> None:
    receiver.default_status = 429
    receiver.response_headers = {"retry-after": "120"}
    client = _client(ScriptedDns("127.0.0.1"))
    try:
        result = await client.post(f"http://127.0.0.1:{receiver.port}/hooks", {}, BODY)
    finally:
        await client.aclose()
    assert result.status_code == 429
    assert result.retry_after_seconds == 120


async def test_a_receiver_that_never_answers_is_a_timeout_and_unreachable(
    receiver: WebhookReceiver,
) -> None:
    receiver.response_delay_seconds = 5
    client = _client(ScriptedDns("127.0.0.1"), timeout=0.5)
    try:
        result = await client.post(f"http://127.0.0.1:{receiver.port}/hooks", {}, BODY)
    finally:
        await client.aclose()
    assert result.unreachable
    assert result.error is not None
    assert result.error.startswith("timeout")


async def test_an_answer_that_is_not_http_is_an_http_error_kept_short() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"x" * 5000 + b"\r\n\r\n")  # no status line, just the receiver's bytes
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    client = _client(ScriptedDns("127.0.0.1"))
    try:
        result = await client.post(f"http://garbage.test:{port}/hooks", {}, BODY)
    finally:
        await client.aclose()
        server.close()
    assert result.unreachable
    assert result.error is not None
    assert result.error.startswith("http: ")
    assert len(result.error) <= 300


async def test_a_refused_connection_moves_on_to_the_next_vetted_address(
    receiver: WebhookReceiver,
) -> None:
    # Nothing listens on 127.0.0.2 at the receiver's port; 127.0.0.1 answers.
    client = _client(ScriptedDns("127.0.0.2", "127.0.0.1"))
    try:
        result = await client.post(f"http://two.test:{receiver.port}/hooks", {}, BODY)
    finally:
        await client.aclose()
    assert result.succeeded


async def test_an_address_outside_the_allowlist_is_never_connected_to() -> None:
    client = _client(ScriptedDns("10.0.0.7"))
    try:
        result = await client.post("http://inside.test:81/hooks", {}, BODY)
    finally:
        await client.aclose()
    assert result.error is not None
    assert result.error.startswith("ssrf: ")
    assert not result.unreachable


async def test_an_ip_literal_host_is_vetted_though_no_name_is_resolved(
    receiver: WebhookReceiver,
) -> None:
    # 127.0.0.1 listens, but only 127.0.0.2 is admitted: the literal must be refused
    # even though no DNS lookup (where names are vetted) ever happens for it.
    dns = ScriptedDns("127.0.0.1")
    client = _client(dns, allowlist="127.0.0.2/32")
    try:
        result = await client.post(f"http://127.0.0.1:{receiver.port}/hooks", {}, BODY)
    finally:
        await client.aclose()
    assert result.error is not None
    assert result.error.startswith("ssrf: ")
    assert receiver.connections == 0
    assert dns.lookups == 0


async def test_a_long_answer_is_cut_and_its_connection_dropped_not_read_to_the_end(
    receiver: WebhookReceiver,
) -> None:
    receiver.response_body = b"x" * 300_000  # far beyond what is worth draining
    client = _client(ScriptedDns("127.0.0.1"), max_bytes=10)
    url = f"http://long.test:{receiver.port}/hooks"
    try:
        first = await client.post(url, {}, BODY)
        second = await client.post(url, {}, BODY)
    finally:
        await client.aclose()
    assert (first.status_code, first.response_body) == (200, "x" * 10)
    assert second.succeeded
    # The first answer was abandoned with its connection: the second needed a new one.
    assert receiver.connections == 2


async def test_proxy_settings_in_the_environment_are_ignored(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = _client(ScriptedDns("127.0.0.1"))
    try:
        result = await client.post(f"http://direct.test:{receiver.port}/hooks", {}, BODY)
    finally:
        await client.aclose()
    assert result.succeeded
    assert len(receiver.received) == 1


async def test_a_slow_host_holds_at_most_its_per_host_connections(
    receiver: WebhookReceiver,
) -> None:
    slow = WebhookReceiver(response_delay_seconds=0.3)
    await slow.start()
    client = _client(ScriptedDns("127.0.0.1"), per_host=2)
    try:
        slow_results, fast = await asyncio.gather(
            asyncio.gather(
                *(client.post(f"http://slow.test:{slow.port}/hooks", {}, BODY) for _ in range(4))
            ),
            client.post(f"http://fast.test:{receiver.port}/hooks", {}, BODY),
        )
    finally:
        await client.aclose()
        await slow.stop()
    assert all(result.succeeded for result in slow_results)
    assert fast.succeeded
    assert slow.connections == 2  # four requests at once, two connections: the cap


@asynccontextmanager
async def serving_tls(cert: Path, key: Path) -> AsyncIterator[tuple[int, list[int]]]:
    """An HTTPS receiver (certificate for ``localhost``) answering 200, kept alive.

    Yields its port and the connections whose handshake completed (one entry each).
    """
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(str(cert), str(key))
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
    try:
        yield int(server.sockets[0].getsockname()[1]), connections
    finally:
        server.close()


@pytest.fixture
async def tls_receiver(tmp_path: Path) -> AsyncIterator[tuple[int, ssl.SSLContext, list[int]]]:
    """:func:`serving_tls`'s port and connections, and a client context trusting it."""
    cert, key = self_signed_certificate(tmp_path)
    async with serving_tls(cert, key) as (port, connections):
        yield port, ssl.create_default_context(cafile=str(cert)), connections


async def test_https_is_verified_against_the_url_host_name_and_kept_alive(
    tls_receiver: tuple[int, ssl.SSLContext, list[int]],
) -> None:
    port, trusting, connections = tls_receiver
    dns = ScriptedDns("127.0.0.1")
    guard = UrlGuard(allowlist=parse_allowlist("127.0.0.0/8"), dns_timeout_seconds=1, resolver=dns)

    def client(context: ssl.SSLContext | None) -> GuardedHttpClient:
        return GuardedHttpClient(
            guard=guard,
            timeout_seconds=2.0,
            connect_timeout_seconds=1,
            response_body_max_bytes=16,
            connections_per_host=4,
            ssl_context=context,
        )

    trusted = client(trusting)
    untrusted = client(None)  # the system's authorities: a self-signed certificate fails
    try:
        first = await trusted.post(f"https://localhost:{port}/hooks", {}, BODY)
        second = await trusted.post(f"https://localhost:{port}/hooks", {}, BODY)
        # The same certificate presented for another name: refused.
        other_name = await trusted.post(f"https://other.test:{port}/hooks", {}, BODY)
        unknown_authority = await untrusted.post(f"https://localhost:{port}/hooks", {}, BODY)
    finally:
        await trusted.aclose()
        await untrusted.aclose()
    assert (first.status_code, first.response_body) == (200, "ok")
    assert second.succeeded
    for refused in (other_name, unknown_authority):
        assert not refused.succeeded
        assert refused.unreachable
        assert refused.error is not None
        assert refused.error.startswith("connect: ")
        assert "certificate" in refused.error.lower()
    # One kept-alive connection for the two trusted requests (a refused handshake never
    # reaches the receiver's handler).
    assert len(connections) == 1


def test_on_uvloop_the_services_event_loop_plain_and_tls_deliveries_succeed(
    tmp_path: Path,
) -> None:
    # The services run on uvloop, whose transports are not asyncio's classes; the
    # client's network layer must work on both loops (the tests above use asyncio's).
    cert, key = self_signed_certificate(tmp_path)

    async def scenario() -> list[AttemptResult]:
        plain = WebhookReceiver()
        await plain.start()
        guard = UrlGuard(
            allowlist=parse_allowlist("127.0.0.0/8"),
            dns_timeout_seconds=1,
            resolver=ScriptedDns("127.0.0.1"),
        )
        client = GuardedHttpClient(
            guard=guard,
            timeout_seconds=2.0,
            connect_timeout_seconds=1,
            response_body_max_bytes=16,
            connections_per_host=4,
            ssl_context=ssl.create_default_context(cafile=str(cert)),
        )
        try:
            async with serving_tls(cert, key) as (port, _):
                return [
                    await client.post(url, {}, BODY)
                    for url in (
                        f"http://hooks.test:{plain.port}/hooks",
                        f"http://hooks.test:{plain.port}/hooks",
                        f"https://localhost:{port}/hooks",
                        f"https://localhost:{port}/hooks",
                    )
                ]
        finally:
            await client.aclose()
            await plain.stop()

    results = uvloop.run(scenario())
    assert [result.succeeded for result in results] == [True] * 4
