"""An open-loop load: reports sent on a fixed schedule, whatever the answers' speed.

A closed loop (wrk) slows down when the server does and so hides queueing; a paced load
keeps the arrival rate and shows what each report waits. Each report's send time is kept,
keyed by its unique title, so the webhook it causes can be matched to it later.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from bench.stats import percentile

MAX_CONNECTIONS = 64


def send_offsets(rate_per_second: float, seconds: float) -> list[float]:
    """When each report is due, in seconds after the start: evenly spaced at ``rate``."""
    count = round(rate_per_second * seconds)
    return [index / rate_per_second for index in range(count)]


def report_body(title: str, fingerprint: str, sequence: int) -> dict[str, object]:
    return {
        "title": title,
        "severity": "high",
        "kind": "bug",
        "fingerprint": fingerprint,
        "environment": "production",
        "release": "shop@4.2.1",
        "description": "Payment provider answered 502 while capturing the order.",
        "context": {"order_sequence": sequence},
    }


@dataclass
class PacedLoadOutcome:
    sent_at: dict[str, float] = field(default_factory=dict)
    """Title → wall-clock time (``time.time()``) just before its request went out."""
    acknowledged: set[str] = field(default_factory=set)
    answer_ms: list[float] = field(default_factory=list)
    """Time to intake's answer of every acknowledged report."""
    failed: int = 0
    """Non-2xx answers, transport errors and reports given up on unanswered."""
    elapsed_seconds: float = 0.0
    max_send_slip_ms: float = 0.0
    """How late the generator sent its most delayed report (its own scheduling lag)."""

    @property
    def achieved_rate(self) -> float:
        return len(self.sent_at) / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def answer_latency_ms(self, q: float) -> float | None:
        return percentile(self.answer_ms, q)


async def send_paced_reports(
    intake_url: str,
    *,
    api_keys: list[str],
    rate_per_second: float,
    seconds: float,
    title_prefix: str,
    answer_deadline_seconds: float,
) -> PacedLoadOutcome:
    """Send for ``seconds``; wait at most ``answer_deadline_seconds`` more for answers.

    Reports still unanswered then are given up (counted as failed), which bounds the
    benchmark's time when the rate is more than intake can take.
    """
    outcome = PacedLoadOutcome()
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    # Reports beyond the connection cap wait here rather than in httpcore's pool, whose
    # bookkeeping walks every queued request for each one assigned: with a backlog of
    # thousands on a busy machine it took the load generator minutes of CPU (py-spy). The
    # send time is taken before the wait, so a report's latency still includes it.
    connection_slots = asyncio.Semaphore(MAX_CONNECTIONS)
    async with httpx.AsyncClient(base_url=intake_url, limits=limits, timeout=30.0) as http:

        async def send(sequence: int) -> None:
            title = f"{title_prefix}-{sequence}"
            key = api_keys[sequence % len(api_keys)]
            sent_at = outcome.sent_at[title] = time.time()
            try:
                async with connection_slots:
                    response = await http.post(
                        "/v1/reports",
                        json=report_body(title, f"e2e-{title}", sequence),
                        headers={"Authorization": f"Bearer {key}"},
                    )
            except httpx.HTTPError:
                outcome.failed += 1
                return
            if response.is_success:
                outcome.acknowledged.add(title)
                outcome.answer_ms.append((time.time() - sent_at) * 1000)
            else:
                outcome.failed += 1

        started = time.monotonic()
        in_flight: set[asyncio.Task[None]] = set()
        for sequence, offset in enumerate(send_offsets(rate_per_second, seconds)):
            delay = started + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                outcome.max_send_slip_ms = max(outcome.max_send_slip_ms, -delay * 1000)
            task = asyncio.create_task(send(sequence))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        outcome.elapsed_seconds = time.monotonic() - started
        if in_flight:
            _, unanswered = await asyncio.wait(set(in_flight), timeout=answer_deadline_seconds)
            for task in unanswered:
                task.cancel()
            await asyncio.gather(*unanswered, return_exceptions=True)
            outcome.failed += len(unanswered)
    return outcome
