"""An open-loop load: reports sent on a fixed schedule, whatever the answers' speed.

A closed loop (wrk) slows down when the server does and so hides queueing; a paced load
keeps the arrival rate and shows what each report waits. Each report's send time is kept,
keyed by its unique title, so the webhook it causes can be matched to it later.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
import orjson

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
    # aiohttp, not httpx: at 200 reports/s httpx's connection pool (its per-request
    # bookkeeping walks every connection, asking each socket whether it is readable) kept
    # this process's one core busy, and the queue that built up here was read as intake's
    # answer time (py-spy of the bench process, session 8). aiohttp's connector waits in
    # a queue of its own and costs a fraction of that per request; notify's bare-sender
    # baseline uses it too. Reports beyond the connection cap wait for a connection; the
    # send time is taken before that wait, so a report's latency includes it.
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with aiohttp.ClientSession(
        base_url=intake_url, connector=connector, timeout=timeout
    ) as http:

        async def send(sequence: int) -> None:
            title = f"{title_prefix}-{sequence}"
            key = api_keys[sequence % len(api_keys)]
            body = orjson.dumps(report_body(title, f"e2e-{title}", sequence))
            sent_at = outcome.sent_at[title] = time.time()
            try:
                async with http.post(
                    "/v1/reports",
                    data=body,
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                ) as response:
                    await response.read()
                    succeeded = response.ok
            except (aiohttp.ClientError, TimeoutError):
                outcome.failed += 1
                return
            if succeeded:
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
