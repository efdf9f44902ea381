"""The sender connects to the vetted IP, keeps Host/SNI, signs, and never follows redirects."""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from aftercare_notify.domain.signing import generate_secret, webhook_headers
from aftercare_notify.domain.ssrf import IPAddress
from aftercare_notify.url_guard import UrlGuard
from aftercare_notify.webhook_sender import OutgoingWebhook, WebhookSender
from aftercare_shared.clock import FrozenClock, use_clock

BODY = b'{"specversion":"1.0","id":"evt-9"}'


def _guard(answers: list[str]) -> UrlGuard:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(answer) for answer in answers]

    return UrlGuard(allowlist=(), dns_timeout_seconds=1, resolver=resolve)


def _sender(
    handler: httpx.MockTransport, answers: list[str], max_bytes: int = 1024
) -> WebhookSender:
    client = httpx.AsyncClient(transport=handler, follow_redirects=False)
    return WebhookSender(
        client=client, guard=_guard(answers), timeout_seconds=2, response_body_max_bytes=max_bytes
    )


async def test_request_goes_to_the_vetted_ip_with_host_sni_and_signature() -> None:
    seen: list[httpx.Request] = []
    secret = generate_secret()

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok " * 1000)

    sender = _sender(httpx.MockTransport(handle), ["93.184.215.14"], max_bytes=10)
    result = await sender.send(
        OutgoingWebhook(
            url="https://hooks.example/in?x=1",
            message_id="evt-9",
            body=BODY,
            secrets_in_use=[secret],
        )
    )
    assert result.succeeded
    assert result.status_code == 200
    assert result.response_body == "ok ok ok o"  # truncated to the configured size
    assert result.latency_ms is not None
    (request,) = seen
    assert str(request.url) == "https://93.184.215.14/in?x=1"
    assert request.headers["host"] == "hooks.example"
    assert request.extensions["sni_hostname"] == "hooks.example"
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert request.content == BODY
    Webhook(secret).verify(request.content, dict(request.headers))
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5


async def test_redirects_are_failures_and_not_followed() -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/"})

    sender = _sender(httpx.MockTransport(handle), ["93.184.215.14"])
    result = await sender.send(
        OutgoingWebhook(
            url="http://hooks.example/",
            message_id="m",
            body=BODY,
            secrets_in_use=[generate_secret()],
        )
    )
    assert not result.succeeded
    assert result.status_code == 302
    assert result.error is not None
    assert "redirect not followed" in result.error
    assert len(calls) == 1


async def test_ssrf_refusal_at_delivery_makes_no_request() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be made")

    sender = _sender(httpx.MockTransport(handle), ["10.0.0.7"])
    result = await sender.send(
        OutgoingWebhook(
            url="https://hooks.example/",
            message_id="m",
            body=BODY,
            secrets_in_use=[generate_secret()],
        )
    )
    assert result.error is not None
    assert result.error.startswith("ssrf: ")
    assert result.status_code is None


async def test_connection_failure_tries_the_next_vetted_address() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "93.184.215.14":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(204)

    sender = _sender(httpx.MockTransport(handle), ["93.184.215.14", "2606:4700:4700::1111"])
    result = await sender.send(
        OutgoingWebhook(
            url="http://hooks.example/",
            message_id="m",
            body=BODY,
            secrets_in_use=[generate_secret()],
        )
    )
    assert result.succeeded


async def test_the_timestamp_comes_from_the_shared_clock_and_is_signed() -> None:
    seen: list[httpx.Request] = []
    secret = generate_secret()

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    at = datetime(2026, 12, 1, 9, 30, 15, 900_000, tzinfo=UTC)
    sender = _sender(httpx.MockTransport(handle), ["93.184.215.14"])
    with use_clock(FrozenClock(at)):
        await sender.send(
            OutgoingWebhook(
                url="http://hooks.example/",
                message_id="evt-7",
                body=BODY,
                secrets_in_use=[secret],
            )
        )
    (request,) = seen
    timestamp = int(at.timestamp())  # whole seconds, as Standard Webhooks sends them
    assert request.headers["webhook-timestamp"] == str(timestamp)
    expected = webhook_headers(
        secrets_in_use=[secret], message_id="evt-7", timestamp=timestamp, body=BODY
    )
    assert request.headers["webhook-signature"] == expected["webhook-signature"]
