"""One webhook attempt over HTTP: vet the URL, sign, POST to a pinned address, record.

DNS-rebinding defence — how the vetted address is pinned: the URL's host is resolved
and every address vetted (``UrlGuard``) immediately before the attempt, then the request
is sent to ``scheme://<vetted IP>:<port>/path`` so httpx never resolves the name itself.
The original name still travels where the receiver needs it: as the ``Host`` header and,
for https, as the TLS SNI name (httpcore's ``sni_hostname`` extension), which is also
the name the certificate is verified against. Keep-alive is off so a connection opened
for one host name (and verified for its certificate) is never reused for another name
that happens to share the IP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.domain.signing import webhook_headers
from aftercare_notify.domain.ssrf import IPAddress, SsrfRefused, WebhookTarget
from aftercare_notify.url_guard import HostUnresolvable, UrlGuard
from aftercare_shared.clock import utc_now
from aftercare_shared.events import STRUCTURED_CONTENT_TYPE

USER_AGENT = "Aftercare-Webhooks/1.0"


def new_webhook_client(*, timeout_seconds: float) -> httpx.AsyncClient:
    """The HTTP client the delivery worker shares across attempts.

    Redirects are not followed (a 3xx is a failed attempt: following one would call a
    URL nobody vetted); proxies and other settings from the environment are ignored (a
    proxy would resolve the name itself and undo the pinning). httpx's timeouts bound
    each phase; :class:`WebhookSender` also bounds the attempt as a whole, so a receiver
    trickling its answer a byte at a time cannot hold a slot forever.
    """
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_seconds),
        limits=httpx.Limits(max_keepalive_connections=0),
    )


@dataclass(frozen=True, slots=True)
class OutgoingWebhook:
    url: str
    message_id: str
    body: bytes
    secrets_in_use: Sequence[str]


class WebhookSender:
    """Makes attempts; never raises for anything the receiver or network does."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        guard: UrlGuard,
        timeout_seconds: float,
        response_body_max_bytes: int,
    ) -> None:
        self._client = client
        self._guard = guard
        self._timeout_seconds = timeout_seconds
        self._response_body_max_bytes = response_body_max_bytes

    async def send(self, webhook: OutgoingWebhook) -> AttemptResult:
        try:
            vetted = await self._guard.vet(webhook.url)
        except SsrfRefused as refusal:
            return AttemptResult(None, None, None, f"ssrf: {refusal}")
        except HostUnresolvable as error:
            return AttemptResult(None, None, None, f"dns: {error}")

        timestamp = int(utc_now().timestamp())
        headers = {
            "content-type": STRUCTURED_CONTENT_TYPE,
            "user-agent": USER_AGENT,
            # Uncompressed answers only: what we keep of a response is its first bytes,
            # and decompressing an unbounded stream to get them is a needless risk.
            "accept-encoding": "identity",
            "host": vetted.target.host_header,
            **webhook_headers(
                secrets_in_use=webhook.secrets_in_use,
                message_id=webhook.message_id,
                timestamp=timestamp,
                body=webhook.body,
            ),
        }
        started = time.perf_counter()
        last_connect_error: Exception | None = None
        try:
            async with asyncio.timeout(self._timeout_seconds):
                # Every address passed the check; try them in resolver order, as a
                # browser would, moving on only when one cannot be connected to.
                for address in vetted.addresses:
                    try:
                        return await self._post(
                            vetted.target, address, headers, webhook.body, started
                        )
                    except httpx.ConnectError as error:
                        last_connect_error = error
        except TimeoutError:
            return AttemptResult(
                None,
                _elapsed_ms(started),
                None,
                f"timeout: no complete response within {self._timeout_seconds:g} s",
            )
        except httpx.HTTPError as error:
            return AttemptResult(
                None, _elapsed_ms(started), None, f"http: {type(error).__name__}: {error}"
            )
        return AttemptResult(
            None, _elapsed_ms(started), None, f"connect: {last_connect_error or 'no address'}"
        )

    async def _post(
        self,
        target: WebhookTarget,
        address: IPAddress,
        headers: dict[str, str],
        body: bytes,
        started: float,
    ) -> AttemptResult:
        extensions: dict[str, object] = {}
        if target.scheme == "https" and not target.is_ip_literal:
            extensions["sni_hostname"] = target.host
        request = self._client.build_request(
            "POST",
            target.url_for_address(address),
            content=body,
            headers=headers,
            extensions=extensions,
        )
        response = await self._client.send(request, stream=True)
        try:
            response_text = await self._read_prefix(response)
        finally:
            await response.aclose()
        latency_ms = _elapsed_ms(started)
        error = None
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "no location")
            error = f"redirect not followed: HTTP {response.status_code} to {location[:200]}"
        return AttemptResult(response.status_code, latency_ms, response_text, error)

    async def _read_prefix(self, response: httpx.Response) -> str | None:
        # Read only what we keep: a receiver streaming gigabytes costs us nothing.
        limit = self._response_body_max_bytes
        if limit == 0:
            return None
        collected = bytearray()
        if response.is_stream_consumed:  # already in memory (an in-process transport)
            collected.extend(response.content[:limit])
        else:
            async for chunk in response.aiter_raw():
                collected.extend(chunk)
                if len(collected) >= limit:
                    break
        return bytes(collected[:limit]).decode("utf-8", errors="replace")


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


__all__ = ["OutgoingWebhook", "WebhookSender", "new_webhook_client"]
