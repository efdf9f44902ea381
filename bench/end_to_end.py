"""Benchmark 3 — from a report sent to its signed ``ticket.created`` webhook received.

All four services run as real processes — intake, sla, releases and notify, the last three
consuming ``aftercare.tickets`` — and a local receiver (the tests' one, verifying every
signature with the official ``standardwebhooks`` package) notes each arrival. The lags in
between come from what the services expose on ``/metrics`` and from intake's outbox table;
for each consumer, the ticket events it applied in the window (its ``/metrics``) and how
far its group was behind, sampled every second and at the end (Kafka offsets); for each
service, its CPU over the window (``/proc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.consumer_lag import ConsumerLagSampler
from bench.intake_database import outbox_claim_lag_ms
from bench.options import BenchOptions
from bench.paced_load import PacedLoadOutcome, send_paced_reports
from bench.process_cpu import tree_cpu_seconds
from bench.processes import UvicornProcess
from bench.prometheus_scrape import Sample, scrape, total, window_quantiles
from bench.stack import BenchStack, libpq_url
from bench.stats import percentile
from devkit.webhook_receiver import WebhookReceiver

QUANTILES = (0.5, 0.95, 0.99)
OUTBOX_LAG_GAUGE = "aftercare_outbox_lag_seconds"
FANOUT_LAG_HISTOGRAM = "aftercare_notify_fanout_lag_seconds"
DELIVERY_LATENCY_HISTOGRAM = "aftercare_notify_delivery_latency_seconds"
CONSUMED_COUNTER = "aftercare_consumer_events_processed_total"
TICKETS_TOPIC = "aftercare.tickets"
GAUGE_SAMPLE_INTERVAL_SECONDS = 0.5
# A consumer whose group is more than this many seconds' worth of reports behind at the
# end of the window did not keep up (a few records in flight at that instant are normal).
KEPT_UP_LAG_SECONDS = 1.0
# The bench process sends the reports and receives (and verifies) the webhooks. Busier than
# this share of a core over the window, its own event loop delays both, and the latencies
# measure the bench rather than the pipeline.
BENCH_PROCESS_BUSY_CORES = 0.8


@dataclass(frozen=True, slots=True)
class EndToEndResults:
    rate_per_second: float
    seconds: float
    load: PacedLoadOutcome
    latencies_ms: list[float]
    duplicates: int
    rejected_signatures: int
    outbox_lag_gauge_max_ms: float | None
    outbox_claim_lag_ms: dict[str, float | None]
    fanout_lag_ms: dict[str, float | None] | None
    delivery_latency_ms: dict[str, float | None] | None
    intake_capacity_per_second: float | None = None
    """Intake's closed-loop throughput from benchmark 1, when it ran."""
    webhooks_per_second: float | None = None
    """Webhooks received over the time from the first report sent to the last webhook."""
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU each running service used from the first report to the last webhook (or the
    deadline), keyed by service."""
    ticket_events_applied: dict[str, float | None] = field(default_factory=dict)
    """``aftercare.tickets`` events each consumer applied in the window (its ``/metrics``)."""
    consumer_lag_largest: dict[str, int] = field(default_factory=dict)
    """Largest number of records each consumer's group was behind on ``aftercare.tickets``,
    sampled every second through the window."""
    consumer_lag_at_end: dict[str, int] = field(default_factory=dict)
    """Records each consumer's group was behind on ``aftercare.tickets`` after the window."""
    bench_cpu_seconds: float | None = None
    """CPU the bench process itself (load generator, webhook receiver) used in the window."""
    window_seconds: float | None = None
    """From the first report sent to the last webhook (or the deadline)."""

    @property
    def bench_busy_cores(self) -> float | None:
        """The bench process's CPU use over the window, in cores (1.0: its one core full)."""
        if self.bench_cpu_seconds is None or not self.window_seconds:
            return None
        return self.bench_cpu_seconds / self.window_seconds

    @property
    def bench_saturated(self) -> bool:
        busy = self.bench_busy_cores
        return busy is not None and busy > BENCH_PROCESS_BUSY_CORES

    def cpu_ms_per_webhook(self, service: str) -> float | None:
        cpu = self.cpu_seconds.get(service)
        if cpu is None or not self.latencies_ms:
            return None
        return cpu * 1000 / len(self.latencies_ms)

    def cpu_ms_per_report(self, service: str) -> float | None:
        """The service's CPU over the window per acknowledged report."""
        cpu = self.cpu_seconds.get(service)
        if cpu is None or not self.load.acknowledged:
            return None
        return cpu * 1000 / len(self.load.acknowledged)

    @property
    def consumers_behind(self) -> list[str]:
        """Consumers that were, at some sample, more than ``KEPT_UP_LAG_SECONDS`` of the paced
        rate behind: a backlog drained after the load still means they fell behind."""
        allowed = KEPT_UP_LAG_SECONDS * self.rate_per_second
        return [name for name, lag in self.consumer_lag_largest.items() if lag > allowed]

    @property
    def over_capacity(self) -> bool:
        """The pipeline could not keep up: latencies then measure a queue, not the pipeline.

        Either the rate is beyond 80 % of intake's closed-loop capacity (a paced load near
        saturation queues already), webhooks arrived slower than reports were sent, a
        consumer (sla, releases, notify) fell more than a second's worth of reports behind,
        or the bench process itself was too busy to send and receive on time.
        """
        capacity = self.intake_capacity_per_second
        if capacity is not None and self.rate_per_second > 0.8 * capacity:
            return True
        if self.consumers_behind or self.bench_saturated:
            return True
        delivered = self.webhooks_per_second
        return self.missing > 0 or (
            delivered is not None and delivered < 0.9 * self.load.achieved_rate
        )

    @property
    def missing(self) -> int:
        return len(self.load.acknowledged) - len(self.latencies_ms)

    def latency_ms(self, q: float) -> float | None:
        return percentile(self.latencies_ms, q)

    def as_json(self) -> dict[str, Any]:
        return {
            "target_rate_per_second": self.rate_per_second,
            "intake_capacity_per_second": _rounded(self.intake_capacity_per_second),
            "over_capacity": self.over_capacity,
            "seconds": self.seconds,
            "sent": len(self.load.sent_at),
            "achieved_send_rate": round(self.load.achieved_rate, 1),
            "generator_max_slip_ms": round(self.load.max_send_slip_ms, 1),
            "acknowledged": len(self.load.acknowledged),
            "acknowledged_per_second": round(
                len(self.load.acknowledged) / self.load.elapsed_seconds, 1
            )
            if self.load.elapsed_seconds
            else None,
            "not_acknowledged": self.load.failed,
            "webhooks_received": len(self.latencies_ms),
            "webhooks_per_second": _rounded(self.webhooks_per_second),
            "missing": self.missing,
            "duplicates": self.duplicates,
            "rejected_signatures": self.rejected_signatures,
            "report_to_webhook_ms": {
                "p50": _rounded(self.latency_ms(50)),
                "p95": _rounded(self.latency_ms(95)),
                "p99": _rounded(self.latency_ms(99)),
                "max": _rounded(max(self.latencies_ms, default=None)),
            },
            "outbox_lag_gauge_max_ms": _rounded(self.outbox_lag_gauge_max_ms),
            "outbox_claim_lag_ms": _rounded_all(self.outbox_claim_lag_ms),
            "kafka_to_notify_fanout_lag_ms": _rounded_all(self.fanout_lag_ms),
            "webhook_request_latency_ms": _rounded_all(self.delivery_latency_ms),
            "intake_cpu_ms_per_webhook": _rounded(self.cpu_ms_per_webhook("intake")),
            "notify_cpu_ms_per_webhook": _rounded(self.cpu_ms_per_webhook("notify")),
            "cpu_ms_per_acknowledged_report": {
                service: None if value is None else round(value, 2)
                for service in self.cpu_seconds
                for value in (self.cpu_ms_per_report(service),)
            },
            "ticket_events_applied": self.ticket_events_applied,
            "consumer_lag_largest_records": self.consumer_lag_largest,
            "consumer_lag_at_end_records": self.consumer_lag_at_end,
            "consumers_behind": self.consumers_behind,
            "bench_process_busy_cores": _rounded(self.bench_busy_cores),
            "bench_process_saturated": self.bench_saturated,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _rounded_all(values: dict[str, float | None] | None) -> dict[str, float | None] | None:
    return None if values is None else {key: _rounded(value) for key, value in values.items()}


def _in_ms(values: dict[str, float | None] | None) -> dict[str, float | None] | None:
    if values is None:
        return None
    return {key: None if value is None else value * 1000 for key, value in values.items()}


async def _sample_outbox_lag(
    http: httpx.AsyncClient, intake_url: str, samples: list[float]
) -> None:
    """The relay's lag gauge is a point-in-time figure: sample it through the load."""
    while True:
        with contextlib.suppress(httpx.HTTPError):
            value = total(await scrape(http, intake_url), OUTBOX_LAG_GAUGE)
            if value is not None:
                samples.append(value)
        await asyncio.sleep(GAUGE_SAMPLE_INTERVAL_SECONDS)


async def _subscribe(stack: BenchStack, notify_url: str, receiver: WebhookReceiver) -> None:
    async with httpx.AsyncClient(base_url=notify_url, timeout=10.0) as http:
        created = await http.post(
            "/v1/endpoints",
            json={"url": receiver.url, "event_types": ["ticket.created"], "channel": "webhook"},
            headers=stack.admin_headers,
        )
        created.raise_for_status()
        receiver.secret = created.json()["secret"]


async def _wait_for_webhooks(
    receiver: WebhookReceiver, expected: set[str], deadline_seconds: float
) -> None:
    give_up_at = time.monotonic() + deadline_seconds
    while time.monotonic() < give_up_at:
        received = {item.event.get("data", {}).get("title") for item in receiver.received}
        if expected <= received:
            return
        await asyncio.sleep(0.2)


async def measure_end_to_end(
    stack: BenchStack,
    *,
    api_keys: list[str],
    options: BenchOptions,
    intake_capacity_per_second: float | None,
) -> EndToEndResults:
    assert stack.intake is not None
    assert stack.notify is not None
    intake_url, notify_url = stack.intake.url, stack.notify.url
    services: dict[str, UvicornProcess] = {
        "intake": stack.intake,
        **stack.consumers_beside_notify,
        "notify": stack.notify,
    }
    consumers = {name: process for name, process in services.items() if name != "intake"}
    receiver = WebhookReceiver(verify_signatures=True)
    await receiver.start()
    try:
        await _subscribe(stack, notify_url, receiver)
        print(
            f"bench: end-to-end latency ({options.e2e_rate:g} reports/s for "
            f"{options.e2e_seconds:g} s, webhook on ticket.created; running: "
            f"{', '.join(services)})…"
        )
        # An unmeasured warm-up at the paced rate, as every server gets before its measured
        # run: the first reports through a just-started pipeline pay for cold connections
        # and first statement plans in every service (in a 40/s run, the first half second
        # held the eight slowest reports of 800, 70-130 ms from Kafka to notify alone).
        send_paced = functools.partial(
            send_paced_reports,
            intake_url,
            api_keys=api_keys,
            rate_per_second=options.e2e_rate,
            answer_deadline_seconds=options.e2e_drain_seconds,
        )
        warm_up = await send_paced(
            seconds=options.warmup_seconds, title_prefix=f"e2e-warm-up-{stack.run_tag}"
        )
        await _wait_for_webhooks(receiver, warm_up.acknowledged, options.e2e_drain_seconds)
        # Statistics, as a running system has them, then a second of load in which the
        # connections plan again what ANALYZE invalidated (see BenchStack.analyze).
        await stack.analyze()
        warm_up = await send_paced(seconds=1.0, title_prefix=f"e2e-warm-up-2-{stack.run_tag}")
        await _wait_for_webhooks(receiver, warm_up.acknowledged, options.e2e_drain_seconds)
        groups = [stack.consumer_group(name) for name in consumers]
        async with (
            httpx.AsyncClient(timeout=10.0) as http,
            ConsumerLagSampler(groups, TICKETS_TOPIC) as consumer_lag,
        ):
            metrics_before: dict[str, list[Sample]] = {
                name: await scrape(http, process.url) for name, process in consumers.items()
            }
            cpu_before = {name: tree_cpu_seconds(p.pid) for name, p in services.items()}
            bench_cpu_before, window_started = time.process_time(), time.monotonic()
            started_at = datetime.now(UTC)
            gauge_samples: list[float] = []
            sampler = asyncio.create_task(_sample_outbox_lag(http, intake_url, gauge_samples))
            consumer_lag.start_sampling()
            try:
                # One deadline for the last answers and the last webhooks together: a rate
                # beyond the pipeline's capacity must not stretch the run without bound.
                drain_until = time.monotonic() + options.e2e_seconds + options.e2e_drain_seconds
                load = await send_paced(
                    seconds=options.e2e_seconds, title_prefix=f"e2e-{stack.run_tag}"
                )
                await _wait_for_webhooks(
                    receiver, load.acknowledged, max(0.0, drain_until - time.monotonic())
                )
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
                await consumer_lag.stop_sampling()
            cpu = {name: tree_cpu_seconds(p.pid) - cpu_before[name] for name, p in services.items()}
            bench_cpu = time.process_time() - bench_cpu_before
            window_seconds = time.monotonic() - window_started
            lag_at_end = await consumer_lag.lag()
            lag_largest = dict(consumer_lag.largest)
            metrics_after = {
                name: await scrape(http, process.url) for name, process in consumers.items()
            }
    finally:
        await receiver.stop()
    notify_before, notify_after = metrics_before["notify"], metrics_after["notify"]

    latencies: list[float] = []
    seen: set[str] = set()
    duplicates = 0
    last_arrival = 0.0
    for item in receiver.received:
        title = item.event.get("data", {}).get("title")
        if title not in load.sent_at:
            continue  # not one of ours
        if title in seen:
            duplicates += 1
            continue
        seen.add(title)
        latencies.append((item.received_at - load.sent_at[title]) * 1000)
        last_arrival = max(last_arrival, item.received_at)
    first_sent = min(load.sent_at.values(), default=0.0)
    webhook_rate = (
        len(latencies) / (last_arrival - first_sent) if last_arrival > first_sent else None
    )

    connection = await asyncpg.connect(libpq_url(stack.service_database_url))
    try:
        claim_lag = await outbox_claim_lag_ms(connection, started_at, QUANTILES)
    finally:
        await connection.close()
    return EndToEndResults(
        rate_per_second=options.e2e_rate,
        seconds=options.e2e_seconds,
        load=load,
        latencies_ms=latencies,
        duplicates=duplicates,
        rejected_signatures=len(receiver.rejected),
        outbox_lag_gauge_max_ms=max(gauge_samples) * 1000 if gauge_samples else None,
        outbox_claim_lag_ms=claim_lag,
        fanout_lag_ms=_in_ms(
            window_quantiles(notify_before, notify_after, FANOUT_LAG_HISTOGRAM, QUANTILES)
        ),
        delivery_latency_ms=_in_ms(
            window_quantiles(notify_before, notify_after, DELIVERY_LATENCY_HISTOGRAM, QUANTILES)
        ),
        intake_capacity_per_second=intake_capacity_per_second,
        webhooks_per_second=webhook_rate,
        cpu_seconds=cpu,
        ticket_events_applied={
            name: _applied(metrics_before[name], metrics_after[name], name) for name in consumers
        },
        consumer_lag_largest={name: lag_largest[stack.consumer_group(name)] for name in consumers},
        consumer_lag_at_end={name: lag_at_end[stack.consumer_group(name)] for name in consumers},
        bench_cpu_seconds=bench_cpu,
        window_seconds=window_seconds,
    )


def _applied(before: list[Sample], after: list[Sample], service: str) -> float | None:
    labels = {"service": service, "topic": TICKETS_TOPIC}
    end = total(after, CONSUMED_COUNTER, labels)
    if end is None:
        return None
    return end - (total(before, CONSUMED_COUNTER, labels) or 0.0)
