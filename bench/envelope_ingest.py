"""Benchmarks 6 to 8 — Sentry envelopes: ingestion, a storm of one fault, a hostile barrage.

6. Events/s through ``/api/<project>/envelope/``: gzip envelopes of realistic 2 to 5 KiB
   Python SDK events, each its own fault (a new ticket), beside REST reports (benchmark 1)
   in the same run; afterwards every acknowledged event is checked to be counted.
7. A storm of one fault through the envelope path: one ticket whose occurrence count equals
   the events intake acknowledged (its ``/metrics``), beside the REST dedup storm.
8. A barrage of zip bombs (gzip and br, 1 GiB inflated each) and oversize events: every
   one refused with 413, and intake's memory sampled throughout (RSS and the kernel's
   high-water mark) — it must stay flat.
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import brotli
import httpx

from bench.footprint import read_footprint
from bench.load_runs import LoadRun, load_server, warm_up
from bench.options import BenchOptions
from bench.prometheus_scrape import Sample, scrape
from bench.report import TableRow, number, pair, ratio_text
from bench.stack import BenchStack, libpq_url
from bench.stats import ratio
from devkit.sentry_payloads import MIB, envelope_of, gzip_bomb, realistic_event

SCRIPT = "envelopes.lua"
ENVELOPE_ROUTE = "/api/{project_id}/envelope/"
REQUESTS_METRIC = "aftercare_http_requests_total"
EVENT_BYTES = 3_500  # realistic: Python SDK error events are 2 to 5 KiB before compression
# Bodies per measured run: more than one intake process acknowledges in a run here, so
# every request is a new fault (a new ticket), like benchmark 1's unique reports.
UNIQUE_BODIES = 12_000
WARM_UP_BODIES = 2_000
BARRAGE_SECONDS_FRACTION = 0.5
RSS_SAMPLE_SECONDS = 0.05
SETTLE_SECONDS = 1.0
LASTING_GROWTH_MIB = 16.0
# Memory one hostile request may hold while being read: a br decoder's window (at most
# 4 MiB, intake refuses larger) and a kept event (at most 1 MiB), plus small buffers.
PER_REQUEST_BOUND_MIB = 5.5


@dataclass(frozen=True, slots=True)
class IngestTarget:
    client_id: str
    public_key: str
    project_id: int


@dataclass(frozen=True, slots=True)
class CountedEvents:
    tickets: int
    occurrences: int


@dataclass(frozen=True, slots=True)
class MemoryTrace:
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    high_water_before_mib: float
    high_water_after_mib: float

    @property
    def flat(self) -> bool:
        """The barrage left no lasting growth: whatever it took, it gave back."""
        return self.rss_after_mib - self.rss_before_mib < LASTING_GROWTH_MIB

    def peak_within(self, connections: int) -> bool:
        """The peak stayed within what the limits allow each connection in flight."""
        return self.rss_peak_mib - self.rss_before_mib <= connections * PER_REQUEST_BOUND_MIB


@dataclass(frozen=True, slots=True)
class EnvelopeResults:
    ingest: LoadRun
    ingest_bodies: int
    ingest_counted: CountedEvents
    ingest_server_acknowledged: int | None
    event_bytes_raw: float
    event_bytes_gzip: float
    storm: LoadRun
    storm_counted: CountedEvents
    storm_server_acknowledged: int | None
    barrage: LoadRun
    barrage_refused_413: int | None
    memory: MemoryTrace
    barrage_connections: int
    rest_reports_per_second: float | None = None
    rest_cpu_ms_per_report: float | None = None
    rest_storm_per_second: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def every_event_counted(self) -> bool:
        acknowledged = self.ingest_server_acknowledged or self.ingest.wrk.acknowledged
        return self.ingest_counted.occurrences == acknowledged

    @property
    def storm_exact(self) -> bool:
        acknowledged = self.storm_server_acknowledged or self.storm.wrk.acknowledged
        return self.storm_counted.tickets == 1 and self.storm_counted.occurrences == acknowledged

    def as_json(self) -> dict[str, Any]:
        memory = self.memory
        return {
            "ingest": {
                **self.ingest.as_json(),
                "unique_bodies": self.ingest_bodies,
                "event_bytes_raw": round(self.event_bytes_raw),
                "event_bytes_gzip": round(self.event_bytes_gzip),
                "server_acknowledged": self.ingest_server_acknowledged,
                "tickets": self.ingest_counted.tickets,
                "occurrences": self.ingest_counted.occurrences,
                "every_event_counted": self.every_event_counted,
                "vs_rest_reports": _rounded(
                    ratio(self.ingest.wrk.acknowledged_per_second, self.rest_reports_per_second)
                ),
            },
            "storm": {
                **self.storm.as_json(),
                "server_acknowledged": self.storm_server_acknowledged,
                "tickets": self.storm_counted.tickets,
                "occurrences": self.storm_counted.occurrences,
                "exact": self.storm_exact,
                "vs_rest_storm": _rounded(
                    ratio(self.storm.wrk.acknowledged_per_second, self.rest_storm_per_second)
                ),
            },
            "hostile_barrage": {
                **self.barrage.as_json(),
                "refused_413": self.barrage_refused_413,
                "rss_mib": {
                    "before": round(memory.rss_before_mib, 1),
                    "peak": round(memory.rss_peak_mib, 1),
                    "after": round(memory.rss_after_mib, 1),
                },
                "high_water_mark_mib": {
                    "before": round(memory.high_water_before_mib, 1),
                    "after": round(memory.high_water_after_mib, 1),
                },
                "flat": memory.flat,
                "peak_within_per_request_bound": memory.peak_within(self.barrage_connections),
                "per_request_bound_mib": PER_REQUEST_BOUND_MIB,
                "connections": self.barrage_connections,
            },
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- bodies ---------------------------------------------------------------------------------


def write_bodies(path: Path, bodies: list[tuple[bytes, str]]) -> None:
    """The file ``envelopes.lua`` reads: ``<length> <encoding>\\n<bytes>`` records."""
    with path.open("wb") as out:
        for body, encoding in bodies:
            out.write(f"{len(body)} {encoding}\n".encode())
            out.write(body)


def unique_event_bodies(count: int, *, seed: int) -> tuple[list[tuple[bytes, str]], float, float]:
    """Gzip envelopes of ``count`` different faults; their mean raw and gzip sizes."""
    bodies: list[tuple[bytes, str]] = []
    raw_total = gzip_total = 0
    for number_ in range(count):
        raw = envelope_of(realistic_event(number_, target_bytes=EVENT_BYTES, seed=seed))
        compressed = gzip.compress(raw, compresslevel=6)
        raw_total += len(raw)
        gzip_total += len(compressed)
        bodies.append((compressed, "gzip"))
    return bodies, raw_total / count, gzip_total / count


def hostile_bodies() -> list[tuple[bytes, str]]:
    """Zip bombs (gzip and br, 1 GiB inflated) and a 1.5 MiB event: each must be a 413."""
    prefix = envelope_of(realistic_event(0)) + b'{"type":"attachment","length":1073741824}\n'
    # The window Python's SDK uses (lgwin 22: 4 MiB), the largest intake decodes.
    brotli_bomb = brotli.compress(prefix + b"\0" * (64 * MIB), quality=5, lgwin=22)
    oversize_event = envelope_of({**realistic_event(1), "extra": {"blob": "x" * (3 * MIB // 2)}})
    return [
        (gzip_bomb(prefix, inflated_mib=1024), "gzip"),
        (brotli_bomb, "br"),
        (oversize_event, "identity"),
    ]


# --- measurements --------------------------------------------------------------------------


async def provision_ingest_target(stack: BenchStack, name: str) -> IngestTarget:
    """A client with a project and an ingest key, made through intake's staff API."""
    assert stack.intake is not None
    async with httpx.AsyncClient(base_url=stack.intake.url, timeout=10.0) as http:
        client = await http.post(
            "/v1/clients", json={"name": f"{name} {stack.run_tag}"}, headers=stack.admin_headers
        )
        client.raise_for_status()
        client_id = client.json()["id"]
        key = await http.post(
            f"/v1/clients/{client_id}/api-keys",
            json={"scope": "ingest"},
            headers=stack.admin_headers,
        )
        key.raise_for_status()
        body = key.json()
        return IngestTarget(client_id, body["public_key"], body["dsns"][0]["project_id"])


def envelopes_acknowledged(samples: list[Sample]) -> int:
    return int(
        sum(
            sample.value
            for sample in samples
            if sample.name == REQUESTS_METRIC
            and sample.labels.get("route") == ENVELOPE_ROUTE
            and sample.labels.get("status") == "200"
        )
    )


def envelopes_answered(samples: list[Sample], status: str) -> int:
    return int(
        sum(
            sample.value
            for sample in samples
            if sample.name == REQUESTS_METRIC
            and sample.labels.get("route") == ENVELOPE_ROUTE
            and sample.labels.get("status") == status
        )
    )


async def counted_events(stack: BenchStack, client_id: str) -> CountedEvents:
    connection = await asyncpg.connect(libpq_url(stack.service_database_url))
    try:
        row = await connection.fetchrow(
            "SELECT count(DISTINCT ticket_id) AS tickets, coalesce(sum(occurrences), 0) AS n"
            " FROM intake.ticket_fingerprints WHERE client_id = $1",
            client_id,
        )
    finally:
        await connection.close()
    assert row is not None
    return CountedEvents(tickets=int(row["tickets"]), occurrences=int(row["n"]))


def _high_water_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _load(
    stack: BenchStack,
    wrk: str,
    *,
    target: str,
    bodies_file: Path,
    ingest: IngestTarget,
    options: BenchOptions,
    seconds: float | None = None,
) -> tuple[LoadRun, int]:
    """A wrk run and the envelopes intake says it acknowledged meanwhile (its /metrics)."""
    assert stack.intake is not None
    args = [str(bodies_file), ingest.public_key, str(ingest.project_id), str(options.threads)]
    async with httpx.AsyncClient(timeout=10.0) as http:
        before = envelopes_acknowledged(await scrape(http, stack.intake.url))
        run = await load_server(
            wrk,
            stack.intake,
            target=target,
            script=SCRIPT,
            script_args=args,
            options=options,
            seconds=seconds,
        )
        await asyncio.sleep(SETTLE_SECONDS)  # requests wrk gave up on are still answered
        after = envelopes_acknowledged(await scrape(http, stack.intake.url))
    return run, after - before


async def measure_envelopes(
    stack: BenchStack, *, wrk: str, options: BenchOptions, work_dir: Path
) -> EnvelopeResults:
    assert stack.intake is not None
    await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
    print("bench: envelope ingestion (gzip envelopes, realistic events, each a new fault)…")
    warm_bodies, _, _ = unique_event_bodies(WARM_UP_BODIES, seed=1)
    run_bodies, raw_size, gzip_size = unique_event_bodies(UNIQUE_BODIES, seed=2)
    warm_file, run_file = work_dir / "envelopes-warm.bin", work_dir / "envelopes-run.bin"
    write_bodies(warm_file, warm_bodies)
    write_bodies(run_file, run_bodies)
    warm_target = await provision_ingest_target(stack, "bench envelopes warm-up")
    await warm_up(
        wrk,
        stack.intake,
        script=SCRIPT,
        script_args=[
            str(warm_file),
            warm_target.public_key,
            str(warm_target.project_id),
            str(options.threads),
        ],
        options=options,
    )
    target = await provision_ingest_target(stack, "bench envelopes")
    ingest, ingest_acknowledged = await _load(
        stack,
        wrk,
        target="intake POST /api/{project}/envelope/ (new faults)",
        bodies_file=run_file,
        ingest=target,
        options=options,
    )
    ingest_counted = await counted_events(stack, target.client_id)

    print("bench: envelope storm (one fault, full speed)…")
    storm_target = await provision_ingest_target(stack, "bench envelope storm")
    storm_file = work_dir / "envelopes-storm.bin"
    storm_event = realistic_event(424242, target_bytes=EVENT_BYTES, seed=3)
    write_bodies(storm_file, [(gzip.compress(envelope_of(storm_event)), "gzip")])
    storm, storm_acknowledged = await _load(
        stack,
        wrk,
        target="intake POST /api/{project}/envelope/ (one fault)",
        bodies_file=storm_file,
        ingest=storm_target,
        options=options,
    )
    storm_counted = await counted_events(stack, storm_target.client_id)

    print("bench: hostile barrage (zip bombs, oversize events) with intake's memory sampled…")
    barrage_target = await provision_ingest_target(stack, "bench hostile")
    barrage_file = work_dir / "envelopes-hostile.bin"
    write_bodies(barrage_file, hostile_bodies())
    barrage, memory, refused = await _barrage(stack, wrk, barrage_file, barrage_target, options)
    return EnvelopeResults(
        ingest=ingest,
        ingest_bodies=len(run_bodies),
        ingest_counted=ingest_counted,
        ingest_server_acknowledged=ingest_acknowledged,
        event_bytes_raw=raw_size,
        event_bytes_gzip=gzip_size,
        storm=storm,
        storm_counted=storm_counted,
        storm_server_acknowledged=storm_acknowledged,
        barrage=barrage,
        barrage_refused_413=refused,
        memory=memory,
        barrage_connections=options.connections,
    )


async def _barrage(
    stack: BenchStack, wrk: str, bodies_file: Path, target: IngestTarget, options: BenchOptions
) -> tuple[LoadRun, MemoryTrace, int]:
    assert stack.intake is not None
    pid = stack.intake.pid
    rss_before = read_footprint(pid).rss_mib
    high_water_before = _high_water_mib(pid)
    peak = rss_before
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, read_footprint(pid).rss_mib)
            await asyncio.sleep(RSS_SAMPLE_SECONDS)

    sampler = asyncio.create_task(sample())
    async with httpx.AsyncClient(timeout=10.0) as http:
        refused_before = envelopes_answered(await scrape(http, stack.intake.url), "413")
        args = [str(bodies_file), target.public_key, str(target.project_id), str(options.threads)]
        run = await load_server(
            wrk,
            stack.intake,
            target="intake POST /api/{project}/envelope/ (zip bombs, oversize)",
            script=SCRIPT,
            script_args=args,
            options=options,
            seconds=max(3.0, options.duration_seconds * BARRAGE_SECONDS_FRACTION),
        )
        await asyncio.sleep(SETTLE_SECONDS)
        refused = envelopes_answered(await scrape(http, stack.intake.url), "413") - refused_before
    sampling = False
    await sampler
    memory = MemoryTrace(
        rss_before_mib=rss_before,
        rss_peak_mib=peak,
        rss_after_mib=read_footprint(pid).rss_mib,
        high_water_before_mib=high_water_before,
        high_water_after_mib=_high_water_mib(pid),
    )
    return run, memory, refused


# --- table ------------------------------------------------------------------------------------


def envelope_rows(results: EnvelopeResults) -> list[TableRow]:
    ingest, storm, barrage, memory = results.ingest, results.storm, results.barrage, results.memory
    name = "6 envelope ingest"
    counted = results.ingest_counted
    acknowledged = results.ingest_server_acknowledged
    return [
        TableRow(
            name,
            f"events/s (2xx), gzip envelopes, {number(results.event_bytes_raw / 1024, 1)} KiB "
            f"events ({number(results.event_bytes_gzip / 1024, 1)} KiB gzip), each a new fault",
            number(ingest.wrk.acknowledged_per_second),
            "intake REST reports (benchmark 1)",
            number(results.rest_reports_per_second),
            ratio_text(ratio(ingest.wrk.acknowledged_per_second, results.rest_reports_per_second)),
        ),
        TableRow(
            name,
            "latency p50 / p99 ms · errors",
            f"{pair(ingest.wrk.latency_p50_ms, ingest.wrk.latency_p99_ms)} · "
            f"{number(ingest.wrk.errors)}",
        ),
        TableRow(
            name,
            "server CPU ms / event",
            number(ingest.server_cpu_ms_per_request, 2),
            "intake REST report (benchmark 1)",
            number(results.rest_cpu_ms_per_report, 2),
            ratio_text(ratio(ingest.server_cpu_ms_per_request, results.rest_cpu_ms_per_report)),
        ),
        TableRow(
            name,
            "acknowledged · tickets · occurrences counted",
            f"{number(acknowledged)} · {number(counted.tickets)} · {number(counted.occurrences)} "
            + ("✓ every event counted" if results.every_event_counted else "✗ MISMATCH"),
        ),
        TableRow(
            "7 envelope storm",
            "events/s (2xx), one fault",
            number(storm.wrk.acknowledged_per_second),
            "REST dedup storm (benchmark 2)",
            number(results.rest_storm_per_second),
            ratio_text(ratio(storm.wrk.acknowledged_per_second, results.rest_storm_per_second)),
        ),
        TableRow(
            "7 envelope storm",
            "tickets · occurrences = acknowledged",
            f"{results.storm_counted.tickets} · {number(results.storm_counted.occurrences)} = "
            f"{number(results.storm_server_acknowledged)} "
            + ("✓ exact" if results.storm_exact else "✗ MISMATCH"),
        ),
        TableRow(
            "8 hostile barrage",
            "zip bombs (1 GiB gzip / br) and 1.5 MiB events: requests/s · answered 413",
            f"{number(barrage.wrk.requests_per_second)} · {number(results.barrage_refused_413)}",
        ),
        TableRow(
            "8 hostile barrage",
            "intake RSS MiB before → peak → after (high-water mark before → after)",
            f"{number(memory.rss_before_mib, 1)} → {number(memory.rss_peak_mib, 1)} → "
            f"{number(memory.rss_after_mib, 1)} ({number(memory.high_water_before_mib, 1)} → "
            f"{number(memory.high_water_after_mib, 1)}) "
            + ("✓ flat: all given back" if memory.flat else "✗ GREW"),
        ),
        TableRow(
            "8 hostile barrage",
            "peak above idle vs what the limits allow in flight",
            f"{number(memory.rss_peak_mib - memory.rss_before_mib, 1)} MiB",
            f"{results.barrage_connections} connections x {PER_REQUEST_BOUND_MIB} MiB "
            "(4 MiB br window + 1 MiB event)",
            f"{number(results.barrage_connections * PER_REQUEST_BOUND_MIB)} MiB",
            ratio_text(
                ratio(
                    memory.rss_peak_mib - memory.rss_before_mib,
                    results.barrage_connections * PER_REQUEST_BOUND_MIB,
                )
            ),
        ),
    ]
