"""One uptime probe: an HTTP request behind the platform's SSRF guard, judged and timed.

Every connection goes through :class:`aftercare_shared.url_guard.VettingNetworkBackend`,
so a probe obeys exactly the rules webhook delivery obeys (no loopback, private or
metadata addresses unless allowlisted; the name is resolved and vetted at connect time).
Redirects are followed only when the monitor says so (each hop vetted the same way).
A probe never raises for the target's doing: whatever happens becomes a
:class:`ProbeResult` (status, latency, error), and over TLS the peer certificate's
fingerprint and expiry are kept for the certificate check.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import httpcore

from aftercare_intake.monitors.vocabulary import ProbeOutcome
from aftercare_shared.ssrf import SsrfRefused, parse_target_url
from aftercare_shared.url_guard import HostUnresolvable, UrlGuard, VettingNetworkBackend

if TYPE_CHECKING:
    from aftercare_intake.monitors.service import ProbeOrder

USER_AGENT = "Aftercare-Uptime/1.0"
MAX_REDIRECTS = 5
BODY_READ_LIMIT = 256 * 1024
ERROR_MAX_CHARS = 500


@dataclass(frozen=True, slots=True)
class Certificate:
    sha256: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ProbeResult:
    started_at: datetime
    outcome: ProbeOutcome
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    certificate: Certificate | None = None


def status_matches(expected: str, status: int) -> bool:
    """``2xx``-style classes or one exact code (``200``)."""
    expected = expected.strip().lower()
    if len(expected) == 3 and expected.endswith("xx") and expected[0].isdigit():
        return status // 100 == int(expected[0])
    return expected.isdigit() and int(expected) == status


def valid_expected_status(expected: str) -> bool:
    expected = expected.strip().lower()
    if len(expected) == 3 and expected.endswith("xx") and expected[0] in "12345":
        return True
    return expected.isdigit() and 100 <= int(expected) <= 599


def probe_ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's CAs, plus ``ca_bundle`` (a PEM file) when given."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class Prober:
    """Runs probes; one per call, on fresh connections (a probe measures a visitor's)."""

    def __init__(self, *, guard: UrlGuard, ssl_context: ssl.SSLContext | None = None) -> None:
        self._backend = VettingNetworkBackend(guard)
        self._ssl_context = ssl_context or ssl.create_default_context()

    async def probe(self, order: ProbeOrder, *, started_at: datetime) -> ProbeResult:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 1)

        try:
            async with asyncio.timeout(order.timeout_seconds):
                return await self._follow(order, started_at=started_at, elapsed=elapsed)
        except TimeoutError:
            return ProbeResult(
                started_at,
                "timeout",
                latency_ms=elapsed(),
                error=f"no answer within {order.timeout_seconds:g} s",
            )
        except httpcore.TimeoutException as error:
            return ProbeResult(started_at, "timeout", latency_ms=elapsed(), error=_text(error))
        except SsrfRefused as refused:
            return ProbeResult(started_at, "connection_error", error=_text(f"ssrf: {refused}"))
        except HostUnresolvable as error:
            return ProbeResult(started_at, "connection_error", error=_text(error))
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError, OSError) as error:
            return ProbeResult(
                started_at, "connection_error", latency_ms=elapsed(), error=_text(error)
            )

    async def _follow(
        self, order: ProbeOrder, *, started_at: datetime, elapsed: Any
    ) -> ProbeResult:
        url = order.url
        timeouts = {key: order.timeout_seconds for key in ("connect", "read", "write", "pool")}
        async with httpcore.AsyncConnectionPool(
            ssl_context=self._ssl_context, network_backend=self._backend, max_connections=1
        ) as pool:
            for _hop in range(MAX_REDIRECTS + 1):
                target = parse_target_url(url)
                headers = [
                    (b"host", target.host_header.encode()),
                    (b"user-agent", USER_AGENT.encode()),
                    (b"accept-encoding", b"identity"),
                ]
                async with pool.stream(
                    order.method, url, headers=headers, extensions={"timeout": timeouts}
                ) as response:
                    certificate = _certificate_of(response)
                    body = await _read_body(response) if order.body_contains else b""
                    status = response.status
                    location = next(
                        (
                            v.decode("latin-1")
                            for k, v in response.headers
                            if k.lower() == b"location"
                        ),
                        None,
                    )
                if order.follow_redirects and 300 <= status < 400 and location:
                    url = urljoin(url, location)
                    continue
                return _judged(order, started_at, status, body, elapsed(), certificate)
        return ProbeResult(
            started_at,
            "http_status",
            latency_ms=elapsed(),
            error=f"more than {MAX_REDIRECTS} redirects",
        )


def _judged(
    order: ProbeOrder,
    started_at: datetime,
    status: int,
    body: bytes,
    latency_ms: float,
    certificate: Certificate | None,
) -> ProbeResult:
    if not status_matches(order.expected_status, status):
        error = f"HTTP {status}, expected {order.expected_status}"
        return ProbeResult(started_at, "http_status", status, latency_ms, error, certificate)
    if order.body_contains and order.body_contains.encode() not in body:
        error = f"the answer does not contain {order.body_contains[:100]!r}"
        return ProbeResult(started_at, "body_mismatch", status, latency_ms, error, certificate)
    return ProbeResult(started_at, "up", status, latency_ms, None, certificate)


async def _read_body(response: httpcore.Response) -> bytes:
    collected = bytearray()
    async for chunk in response.aiter_stream():
        collected.extend(chunk)
        if len(collected) >= BODY_READ_LIMIT:
            break
    return bytes(collected[:BODY_READ_LIMIT])


def _certificate_of(response: httpcore.Response) -> Certificate | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    decoded = ssl_object.getpeercert()
    if not der or not decoded or "notAfter" not in decoded:
        return None
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(decoded["notAfter"]), tz=UTC)
    return Certificate(sha256=hashlib.sha256(der).hexdigest(), expires_at=expires)


def _text(error: object) -> str:
    text = str(error) or type(error).__name__
    return text[:ERROR_MAX_CHARS]
