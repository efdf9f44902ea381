"""Benchmark 6 — notify's fan-out: deliveries/s against a bare sender, and isolation.

Receivers run in a process of their own (``bench.fan_out_receivers``). Events are
produced straight to ``aftercare.tickets``; notify consumes them (batched), fans each
out to every endpoint and delivers, signed. Three measurements, one run:

1. **Throughput.** A burst of events x ``ENDPOINTS`` endpoints; deliveries/s from the
   first event produced to the last delivery received. The baseline is a bare sender:
   the same number of signed POSTs (same signing code, kept-alive connections, the same
   per-host concurrency) sent by a minimal aiohttp client (notify's HTTP library: one
   session, no vetting, no database) to the same receivers.
2. **Paced, all healthy.** ``PACED_RATE`` events/s for ``paced_seconds``; p95 of event
   produced → webhook received, per delivery.
3. **Paced, 10 % blackholed.** The same, with a tenth of the endpoints dead (some never
   accept a connection, some accept and never answer); the healthy endpoints' p95
   against run 2's is the isolation ratio (target ≤ 1.5).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer

from aftercare_notify.domain.signing import webhook_headers
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import TicketCreated
from aftercare_shared.events.factory import new_event
from aftercare_shared.topics import topic_for_event_type
from bench.footprint import read_footprint
from bench.options import RESULTS_DIR
from bench.profile_summary import ProfileSummary
from bench.profiling import record_profile
from bench.stack import BenchStack, libpq_url
from bench.stats import percentile, ratio
from devkit.databases import kafka_bootstrap_servers
from devkit.service_processes import REPO_ROOT

ENDPOINTS = 50
BLACKHOLED_NEVER_ACCEPT = 3
BLACKHOLED_NEVER_ANSWER = 2
PACED_RATE = 40.0
PER_HOST_CONCURRENCY = 20
PROFILE_SECONDS = 10.0  # notify's NOTIFY_DELIVERY_CONNECTIONS_PER_HOST default


@dataclass
class FanOutResults:
    endpoints: int = ENDPOINTS
    burst_events: int = 0
    notify_deliveries: int = 0
    notify_per_second: float | None = None
    bare_deliveries: int = 0
    bare_per_second: float | None = None
    notify_cpu_seconds: float | None = None
    bare_cpu_seconds: float | None = None
    signatures_verified: int = 0
    signatures_rejected: int = 0
    paced_rate: float = PACED_RATE
    paced_seconds: float = 0.0
    healthy_p50_ms: float | None = None
    healthy_p95_ms: float | None = None
    healthy_p99_ms: float | None = None
    isolated_p50_ms: float | None = None
    isolated_p95_ms: float | None = None
    isolated_p99_ms: float | None = None
    blackholed: int = BLACKHOLED_NEVER_ACCEPT + BLACKHOLED_NEVER_ANSWER
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def notify_vs_bare(self) -> float | None:
        return ratio(self.notify_per_second, self.bare_per_second)

    @property
    def notify_cpu_ms_per_delivery(self) -> float | None:
        if self.notify_cpu_seconds is None or not self.notify_deliveries:
            return None
        return self.notify_cpu_seconds * 1000 / self.notify_deliveries

    @property
    def bare_cpu_ms_per_delivery(self) -> float | None:
        if self.bare_cpu_seconds is None or not self.bare_deliveries:
            return None
        return self.bare_cpu_seconds * 1000 / self.bare_deliveries

    @property
    def isolation_ratio(self) -> float | None:
        return ratio(self.isolated_p95_ms, self.healthy_p95_ms)

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoints": self.endpoints,
            "burst_events": self.burst_events,
            "notify_deliveries": self.notify_deliveries,
            "notify_deliveries_per_second": _round(self.notify_per_second),
            "bare_sender_deliveries": self.bare_deliveries,
            "bare_sender_deliveries_per_second": _round(self.bare_per_second),
            "notify_vs_bare": _round(self.notify_vs_bare, 2),
            "notify_cpu_ms_per_delivery": _round(self.notify_cpu_ms_per_delivery, 3),
            "bare_sender_cpu_ms_per_delivery": _round(self.bare_cpu_ms_per_delivery, 3),
            "signatures_verified_sample": self.signatures_verified,
            "signatures_rejected": self.signatures_rejected,
            "paced_events_per_second": self.paced_rate,
            "paced_seconds": self.paced_seconds,
            "healthy_run_latency_ms": _triple(
                self.healthy_p50_ms, self.healthy_p95_ms, self.healthy_p99_ms
            ),
            "blackholed_run_healthy_latency_ms": _triple(
                self.isolated_p50_ms, self.isolated_p95_ms, self.isolated_p99_ms
            ),
            "blackholed_endpoints": self.blackholed,
            "isolation_p95_ratio": _round(self.isolation_ratio, 2),
            "missing_deliveries": self.missing,
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _triple(p50: float | None, p95: float | None, p99: float | None) -> dict[str, float | None]:
    return {"p50": _round(p50), "p95": _round(p95), "p99": _round(p99)}


# --- the receivers' process ------------------------------------------------------------


@dataclass
class Receivers:
    process: asyncio.subprocess.Process
    healthy: list[int]
    never_accept: list[int]
    never_answer: list[int]

    async def send(self, command: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(orjson.dumps(command) + b"\n")
        await self.process.stdin.drain()

    async def finish(self) -> dict[str, Any]:
        await self.send({"stop": True})
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        await self.process.wait()
        result: dict[str, Any] = orjson.loads(line)
        return result


@asynccontextmanager
async def receivers(
    healthy: int, never_accept: int = 0, never_answer: int = 0
) -> AsyncIterator[Receivers]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.fan_out_receivers",
        f"--healthy={healthy}",
        f"--never-accept={never_accept}",
        f"--never-answer={never_answer}",
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=256 * 1024 * 1024,
    )
    try:
        assert process.stdout is not None
        ports = orjson.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        yield Receivers(process, ports["healthy"], ports["never_accept"], ports["never_answer"])
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# --- notify's side ---------------------------------------------------------------------


async def _subscribe(
    stack: BenchStack, notify_url: str, ports: list[int]
) -> dict[int, tuple[str, str]]:
    """One endpoint per port: port → (endpoint id, secret)."""
    created: dict[int, tuple[str, str]] = {}
    async with httpx.AsyncClient(base_url=notify_url, timeout=10.0) as http:
        for port in ports:
            response = await http.post(
                "/v1/endpoints",
                headers=stack.admin_headers,
                json={
                    "url": f"http://127.0.0.1:{port}/hooks",
                    "event_types": ["ticket.created"],
                    "channel": "webhook",
                },
            )
            response.raise_for_status()
            body = response.json()
            created[port] = (body["id"], body["secret"])
    return created


async def _unsubscribe(stack: BenchStack, notify_url: str, endpoint_ids: list[str]) -> None:
    async with httpx.AsyncClient(base_url=notify_url, timeout=30.0) as http:
        for endpoint_id in endpoint_ids:
            await http.delete(f"/v1/endpoints/{endpoint_id}", headers=stack.admin_headers)


def _ticket_created() -> tuple[str, bytes, str]:
    client_id = f"bench-client-{uuid.uuid4().hex[:8]}"
    ticket_id = str(uuid.uuid4())
    event = new_event(
        TicketCreated(
            ticket_id=ticket_id,
            client_id=client_id,
            title="Fan-out bench",
            severity="high",
            priority="P2",
            status="new",
            fingerprint=uuid.uuid4().hex,
            created_at=utc_now(),
        ),
        service="intake",
        subject=ticket_id,
        client_id=client_id,
    )
    return event.id, event.to_json_bytes(), ticket_id


async def _produce(producer: AIOKafkaProducer, count: int, rate: float | None) -> dict[str, float]:
    """Produce ``count`` events (paced at ``rate``/s, or at once); event id → time sent."""
    topic = topic_for_event_type("aftercare.ticket.created.v1")
    sent: dict[str, float] = {}
    started = time.monotonic()
    pending = []
    for index in range(count):
        if rate is not None:
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
        event_id, body, key = _ticket_created()
        sent[event_id] = time.time()
        pending.append(await producer.send(topic, value=body, key=key.encode()))
    await asyncio.gather(*pending)
    return sent


async def _wait_for_succeeded(
    database_url: str, event_ids: list[str], expected: int, *, within_seconds: float
) -> int:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        deadline = time.monotonic() + within_seconds
        count = 0
        while time.monotonic() < deadline:
            count = int(
                await connection.fetchval(
                    "SELECT count(*) FROM notify.deliveries"
                    " WHERE status = 'succeeded' AND message_id = ANY($1::text[])",
                    event_ids,
                )
            )
            if count >= expected:
                break
            await asyncio.sleep(0.25)
        return count
    finally:
        await connection.close()


async def _healthy_latencies_ms(
    arrivals: Mapping[str, list[list[Any]]], sent: Mapping[str, float]
) -> list[float]:
    return [
        (received_at - sent[webhook_id]) * 1000
        for items in arrivals.values()
        for webhook_id, received_at in items
        if webhook_id in sent
    ]


# --- the bare sender -------------------------------------------------------------------


async def bare_sender(
    ports: list[int], secrets: Mapping[int, str], bodies: list[tuple[str, bytes]]
) -> float:
    """Send every body to every port, signed, kept alive; deliveries per second.

    A minimal aiohttp sender, the same library notify delivers with: one session, at
    most ``PER_HOST_CONCURRENCY`` connections per receiver, no vetting, no database.
    """
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=PER_HOST_CONCURRENCY)

    async def one(session: aiohttp.ClientSession, port: int, event_id: str, body: bytes) -> None:
        headers = {
            "content-type": "application/cloudevents+json",
            **webhook_headers(
                secrets_in_use=[secrets[port]],
                message_id=event_id,
                timestamp=int(time.time()),
                body=body,
            ),
        }
        async with session.post(
            f"http://127.0.0.1:{port}/hooks", headers=headers, data=body
        ) as response:
            await response.read()
            assert response.status < 300, response.status

    async def host_worker(
        session: aiohttp.ClientSession, port: int, share: list[tuple[str, bytes]]
    ) -> None:
        for event_id, body in share:
            await one(session, port, event_id, body)

    # Per host, as many workers as connections, each sending its share in turn: what a
    # minimal client does (thousands of queued requests would measure the pool's queue).
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(
            *(
                host_worker(session, port, bodies[worker::PER_HOST_CONCURRENCY])
                for port in ports
                for worker in range(PER_HOST_CONCURRENCY)
            )
        )
    return len(bodies) * len(ports) / (time.perf_counter() - started)


# --- the benchmark ---------------------------------------------------------------------


async def measure_fan_out(
    stack: BenchStack, *, burst_events: int, paced_seconds: float, paced_rate: float = PACED_RATE
) -> FanOutResults:
    assert stack.notify is not None, "start notify first"
    notify_url = stack.notify.url
    results = FanOutResults(
        burst_events=burst_events, paced_seconds=paced_seconds, paced_rate=paced_rate
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers(), linger_ms=5)
    await producer.start()
    try:
        # 1. Throughput: notify, then the bare sender, against the same receivers.
        print(f"bench: fan-out burst, {burst_events} events x {ENDPOINTS} endpoints…")
        async with receivers(ENDPOINTS) as sink:
            endpoints = await _subscribe(stack, notify_url, sink.healthy)
            secrets = {port: secret for port, (_, secret) in endpoints.items()}
            await sink.send({"secrets": {str(port): s for port, s in secrets.items()}})
            started = time.time()
            # notify's own CPU time over the burst (consuming, fanning out, sending,
            # recording), from /proc: the whole process, every thread.
            notify_cpu_before = read_footprint(stack.notify.pid).cpu_seconds
            sent = await _produce(producer, burst_events, rate=None)
            expected = burst_events * ENDPOINTS
            results.notify_deliveries = await _wait_for_succeeded(
                stack.service_database_url, list(sent), expected, within_seconds=180
            )
            results.notify_cpu_seconds = (
                read_footprint(stack.notify.pid).cpu_seconds - notify_cpu_before
            )
            await _unsubscribe(
                stack, notify_url, [endpoint_id for endpoint_id, _ in endpoints.values()]
            )
            bodies = [_ticket_created()[:2] for _ in range(burst_events)]
            bare_cpu_before = time.process_time()  # the bench process sends alone meanwhile
            results.bare_per_second = await bare_sender(sink.healthy, secrets, bodies)
            results.bare_cpu_seconds = time.process_time() - bare_cpu_before
            results.bare_deliveries = expected
            report = await sink.finish()
        last_arrival = max(
            (
                received_at
                for items in report["arrivals"].values()
                for webhook_id, received_at in items
                if webhook_id in sent
            ),
            default=None,
        )
        if last_arrival is not None and results.notify_deliveries:
            results.notify_per_second = results.notify_deliveries / (last_arrival - started)
        results.signatures_verified = report["verified"]
        results.signatures_rejected = report["rejected"]
        if results.notify_deliveries < expected:
            results.missing["burst"] = expected - results.notify_deliveries

        # 2 and 3: paced, all healthy, then with a tenth of the endpoints blackholed.
        await stack.analyze()  # as after every warm-up: the burst grew the tables from empty
        count = int(paced_rate * paced_seconds)
        for blackholed, label in ((False, "healthy"), (True, "blackholed")):
            print(f"bench: fan-out paced at {paced_rate:g}/s for {paced_seconds:g} s ({label})…")
            dead_accept = BLACKHOLED_NEVER_ACCEPT if blackholed else 0
            dead_answer = BLACKHOLED_NEVER_ANSWER if blackholed else 0
            healthy_count = ENDPOINTS - dead_accept - dead_answer
            async with receivers(healthy_count, dead_accept, dead_answer) as sink:
                ports = [*sink.healthy, *sink.never_accept, *sink.never_answer]
                endpoints = await _subscribe(stack, notify_url, ports)
                await sink.send({"secrets": {str(port): s for port, (_, s) in endpoints.items()}})
                sent = await _produce(producer, count, rate=paced_rate)
                expected = count * healthy_count
                delivered = await _wait_for_succeeded(
                    stack.service_database_url, list(sent), expected, within_seconds=60
                )
                # Deleting the endpoints first drops the dead ones' pending retries.
                await _unsubscribe(
                    stack, notify_url, [endpoint_id for endpoint_id, _ in endpoints.values()]
                )
                report = await sink.finish()
            latencies = await _healthy_latencies_ms(report["arrivals"], sent)
            p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
            if blackholed:
                results.isolated_p50_ms, results.isolated_p95_ms, results.isolated_p99_ms = (
                    p50,
                    p95,
                    p99,
                )
            else:
                results.healthy_p50_ms, results.healthy_p95_ms, results.healthy_p99_ms = (
                    p50,
                    p95,
                    p99,
                )
            if delivered < expected:
                results.missing[label] = expected - delivered
    finally:
        await producer.stop()
    return results


async def profile_notify_fan_out(stack: BenchStack, *, burst_events: int) -> ProfileSummary:
    """An extra, unmeasured burst with py-spy sampling notify (sampling costs CPU)."""
    assert stack.notify is not None
    print("bench: profiling notify under a fan-out burst with py-spy (unmeasured run)…")
    output = RESULTS_DIR / "notify-profile.txt"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers(), linger_ms=5)
    await producer.start()
    try:
        async with receivers(ENDPOINTS) as sink:
            endpoints = await _subscribe(stack, stack.notify.url, sink.healthy)
            try:
                profiling = asyncio.create_task(
                    record_profile(stack.notify.pid, seconds=PROFILE_SECONDS, output=output)
                )
                sent = await _produce(producer, burst_events, rate=None)
                summary = await profiling
                # Drained before the measured runs: no event of this run may reach theirs.
                await _wait_for_succeeded(
                    stack.service_database_url,
                    list(sent),
                    len(sent) * ENDPOINTS,
                    within_seconds=180,
                )
            finally:
                # Even when py-spy could not run: endpoints left subscribed (their receivers
                # gone) would take every event of the measured runs too.
                await _unsubscribe(stack, stack.notify.url, [e for e, _ in endpoints.values()])
            await sink.finish()
    finally:
        await producer.stop()
    print(f"bench: raw notify profile (collapsed stacks) in {output}")
    return summary
