"""Benchmark 3 — from a report sent to its signed ``ticket.created`` webhook received.

Intake and notify run as real processes; a local receiver (the tests' one, verifying every
signature with the official ``standardwebhooks`` package) notes each arrival. The lags in
between come from what the services expose on ``/metrics`` and from intake's outbox table.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.footprint import read_footprint
from bench.intake_database import outbox_claim_lag_ms
from bench.options import BenchOptions
from bench.paced_load import PacedLoadOutcome, send_paced_reports
from bench.prometheus_scrape import Sample, scrape, total, window_quantiles
from bench.stack import BenchStack, libpq_url
from bench.stats import percentile
from devkit.webhook_receiver import WebhookReceiver

QUANTILES = (0.5, 0.95, 0.99)
OUTBOX_LAG_GAUGE = "aftercare_outbox_lag_seconds"
FANOUT_LAG_HISTOGRAM = "aftercare_notify_fanout_lag_seconds"
DELIVERY_LATENCY_HISTOGRAM = "aftercare_notify_delivery_latency_seconds"
GAUGE_SAMPLE_INTERVAL_SECONDS = 0.5


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
    intake_cpu_seconds: float = 0.0
    notify_cpu_seconds: float = 0.0
    """CPU each service used from the first report to the last webhook (or the deadline)."""

    def cpu_ms_per_webhook(self, cpu_seconds: float) -> float | None:
        return cpu_seconds * 1000 / len(self.latencies_ms) if self.latencies_ms else None

    @property
    def over_capacity(self) -> bool:
        """The pipeline could not keep up: latencies then measure a queue, not the pipeline.

        Either the rate is beyond 80 % of intake's closed-loop capacity (a paced load near
        saturation queues already) or webhooks arrived slower than reports were sent.
        """
        capacity = self.intake_capacity_per_second
        if capacity is not None and self.rate_per_second > 0.8 * capacity:
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
            "intake_cpu_ms_per_webhook": _rounded(self.cpu_ms_per_webhook(self.intake_cpu_seconds)),
            "notify_cpu_ms_per_webhook": _rounded(self.cpu_ms_per_webhook(self.notify_cpu_seconds)),
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
    receiver = WebhookReceiver(verify_signatures=True)
    await receiver.start()
    try:
        await _subscribe(stack, notify_url, receiver)
        print(
            f"bench: end-to-end latency ({options.e2e_rate:g} reports/s for "
            f"{options.e2e_seconds:g} s, webhook on ticket.created)…"
        )
        async with httpx.AsyncClient(timeout=10.0) as http:
            notify_before: list[Sample] = await scrape(http, notify_url)
            intake_cpu_before = read_footprint(stack.intake.pid).cpu_seconds
            notify_cpu_before = read_footprint(stack.notify.pid).cpu_seconds
            started_at = datetime.now(UTC)
            gauge_samples: list[float] = []
            sampler = asyncio.create_task(_sample_outbox_lag(http, intake_url, gauge_samples))
            try:
                # One deadline for the last answers and the last webhooks together: a rate
                # beyond the pipeline's capacity must not stretch the run without bound.
                drain_until = time.monotonic() + options.e2e_seconds + options.e2e_drain_seconds
                load = await send_paced_reports(
                    intake_url,
                    api_keys=api_keys,
                    rate_per_second=options.e2e_rate,
                    seconds=options.e2e_seconds,
                    title_prefix=f"e2e-{stack.run_tag}",
                    answer_deadline_seconds=options.e2e_drain_seconds,
                )
                await _wait_for_webhooks(
                    receiver, load.acknowledged, max(0.0, drain_until - time.monotonic())
                )
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            intake_cpu = read_footprint(stack.intake.pid).cpu_seconds - intake_cpu_before
            notify_cpu = read_footprint(stack.notify.pid).cpu_seconds - notify_cpu_before
            notify_after = await scrape(http, notify_url)
    finally:
        await receiver.stop()

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
        intake_cpu_seconds=intake_cpu,
        notify_cpu_seconds=notify_cpu,
    )
