"""Benchmark 2 — the same fault reported at full speed: one ticket, every report counted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench.intake_database import tickets_with_fingerprint
from bench.load_runs import LoadRun, load_server
from bench.options import BenchOptions
from bench.prometheus_scrape import Sample, scrape, total
from bench.stack import BenchStack, libpq_url

REQUESTS_METRIC = "aftercare_http_requests_total"
# Requests wrk abandoned when its time was up are still being answered; give them this.
SETTLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class DedupResults:
    load: LoadRun
    tickets: int
    occurrences: int
    server_acknowledged: int | None
    """2xx answers intake counted (``/metrics``): includes answers to requests wrk had
    already given up on when its time ran out, which the client never saw."""

    @property
    def nothing_lost(self) -> bool:
        """One ticket whose count equals the reports acknowledged — no more, no fewer."""
        acknowledged = (
            self.server_acknowledged
            if self.server_acknowledged is not None
            else self.load.wrk.acknowledged
        )
        return self.tickets == 1 and self.occurrences == acknowledged

    def as_json(self) -> dict[str, Any]:
        return {
            **self.load.as_json(),
            "tickets": self.tickets,
            "occurrences": self.occurrences,
            "client_acknowledged": self.load.wrk.acknowledged,
            "server_acknowledged": self.server_acknowledged,
            "nothing_lost": self.nothing_lost,
        }


def acknowledged_reports(samples: list[Sample]) -> int | None:
    """2xx answers to POST requests in a ``/metrics`` scrape; None if not exposed.

    Not filtered by route: during the storm only ``POST /v1/reports`` reaches intake,
    and the route label is not always resolved (it reads "unmatched" for routes FastAPI
    keeps in included routers).
    """
    counts = [
        total(samples, REQUESTS_METRIC, {"method": "POST", "status": status})
        for status in ("200", "201")
    ]
    exposed = [count for count in counts if count is not None]
    return int(sum(exposed)) if exposed else None


async def measure_dedup_storm(
    stack: BenchStack, *, wrk: str, api_keys: list[str], options: BenchOptions
) -> DedupResults:
    assert stack.intake is not None
    fingerprint = f"bench-dedup-{stack.run_tag}"
    print("bench: dedup storm (one fingerprint, full speed)…")
    async with httpx.AsyncClient(timeout=10.0) as http:
        before = await scrape(http, stack.intake.url)
        load = await load_server(
            wrk,
            stack.intake,
            target="intake POST /v1/reports (same fingerprint)",
            script="dedup_storm.lua",
            script_args=[fingerprint, *api_keys],
            options=options,
        )
        await asyncio.sleep(SETTLE_SECONDS)
        after = await scrape(http, stack.intake.url)
    acknowledged_after = acknowledged_reports(after)
    server_acknowledged = (
        None
        if acknowledged_after is None
        else acknowledged_after - (acknowledged_reports(before) or 0)
    )
    connection = await asyncpg.connect(libpq_url(stack.service_database_url))
    try:
        state = await tickets_with_fingerprint(connection, fingerprint)
    finally:
        await connection.close()
    return DedupResults(
        load=load,
        tickets=state.tickets,
        occurrences=state.occurrences,
        server_acknowledged=server_acknowledged,
    )
