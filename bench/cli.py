"""``bench/run.py``: bring up the system under test, run every benchmark, report.

Benchmarks run one after another — never two loads at once — and each server gets an
unmeasured warm-up first. A benchmark that fails is reported as such and the others still
run; the exit status is 1 if any failed. Skipped ones (a part not written yet) are not
failures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
import time
import traceback
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.advisory_matching import matching_rows, measure_advisory_matching
from bench.commit_notify import commit_notify_rows, measure_commit_notify
from bench.consumer_batches import consumer_batch_rows, measure_consumer_batches
from bench.dedup_storm import DedupResults, measure_dedup_storm
from bench.end_to_end import measure_end_to_end
from bench.envelope_ingest import EnvelopeResults, envelope_rows, measure_envelopes
from bench.fan_out import measure_fan_out, profile_notify_fan_out
from bench.footprint import Footprint, read_footprint
from bench.load_runs import load_server
from bench.machine import describe_machine, describe_postgres
from bench.monitor_timers import measure_monitor_timers, monitor_timer_rows
from bench.options import RESULTS_DIR, BenchOptions, parse_options
from bench.ping_checkins import measure_ping_checkins, ping_rows
from bench.processes import UVICORN_SETTINGS, UvicornProcess
from bench.profile_summary import ProfileSummary
from bench.profiling import record_profile
from bench.report import (
    ServiceFootprint,
    TableRow,
    dedup_rows,
    describe_run,
    end_to_end_rows,
    fan_out_rows,
    footprint_json,
    footprint_rows,
    markdown_table,
    profile_json,
    sla_rows,
    throughput_rows,
    write_json,
)
from bench.report_generation import measure_report_generation, report_rows
from bench.sla_arithmetic import SLA_TIME_MODULE, run_sla_arithmetic, sla_time_available
from bench.sla_timers import measure_timer_scale, timer_rows
from bench.stack import DB_POOL_SIZE, BenchStack, libpq_url
from bench.throughput import (
    UNIQUE_REPORTS_SCRIPT,
    ThroughputResults,
    measure_throughput,
    wait_for_outbox_drain,
)
from bench.tools import ensure_wrk, find_pgbench
from devkit.databases import base_database_url, kafka_bootstrap_servers

T = TypeVar("T")

# Several tenants send the unique reports, as in production; the storm comes from one
# client (one fingerprint is per client) over two of its keys.
UNIQUE_CLIENTS = 4
DEDUP_KEYS = 2
# A freshly started server finishes its start-up work (consumers join, relay elects
# itself) before its footprint counts as idle.
IDLE_SETTLE_SECONDS = 3.0


class BenchRun:
    """Collects figures, failures and table rows as the benchmarks go."""

    def __init__(self, options: BenchOptions) -> None:
        self.options = options
        self.document: dict[str, Any] = {"schema_version": 1}
        self.rows: list[TableRow] = []
        self.failures: dict[str, str] = {}
        self.idle: dict[str, Footprint] = {}
        self.after_loads: dict[str, Footprint] = {}

    async def attempt(self, section: str, work: Awaitable[T]) -> T | None:
        started = time.monotonic()
        try:
            return await work
        except Exception as error:  # a failed benchmark is reported; the others still run
            print(f"bench: {section} FAILED: {type(error).__name__}: {error}")
            self.failures[section] = "".join(traceback.format_exception(error))[-4000:]
            self.document[section] = {"failed": f"{type(error).__name__}: {error}"}
            return None
        finally:
            seconds = round(time.monotonic() - started, 1)
            self.document.setdefault("phase_seconds", {})[section] = seconds
            print(f"bench: {section} took {seconds} s")

    def skip(self, section: str, reason: str) -> None:
        print(f"bench: {section} skipped: {reason}")
        self.document[section] = {"skipped": reason}

    async def note_idle(self, process: UvicornProcess) -> None:
        await asyncio.sleep(IDLE_SETTLE_SECONDS)
        self.idle[process.name] = read_footprint(process.pid)

    def note_after_loads(self, *processes: UvicornProcess | None) -> None:
        for process in processes:
            if process is not None and process.name in self.idle:
                self.after_loads[process.name] = read_footprint(process.pid)


def main(argv: list[str]) -> int:
    return asyncio.run(run_bench(parse_options(argv)))


async def run_bench(options: BenchOptions) -> int:
    started = time.monotonic()
    run = BenchRun(options)
    wrk = ensure_wrk()
    pgbench = find_pgbench()
    machine = describe_machine(wrk)
    machine["postgres"] = await describe_postgres(libpq_url(base_database_url()))
    run.document.update(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine,
        settings={
            **options.as_settings(),
            "servers": f"uvicorn {' '.join(UVICORN_SETTINGS)} (every service and peer alike)"
            + ("; benchmark 1 again with --workers 2" if options.two_workers else ""),
            "database_pool": f"up to {2 * DB_POOL_SIZE} connections, kept open, per server",
            "kafka": kafka_bootstrap_servers(),
        },
    )
    stack = BenchStack(logs_dir=RESULTS_DIR / "logs", keep_databases=options.keep_databases)
    try:
        await run.attempt("stack_start", stack.start())
        if "stack_start" in run.failures:
            raise SystemExit(f"bench: the stack did not start; logs in {stack.logs_dir}")
        await _service_benchmarks(run, stack, wrk=wrk, pgbench=pgbench)
    finally:
        await stack.stop(keep_databases=options.keep_databases)
    # After the servers are gone: pure CPU work wants a quiet machine.
    if options.wants("commit_notify"):
        await run.attempt("commit_notify", _commit_notify(run, pgbench))
    _sla_arithmetic(run)
    if options.wants("advisory_matching"):
        await run.attempt("advisory_matching", _advisory_matching(run))
    if options.wants("sla_timers"):
        await run.attempt("sla_timers", _sla_timers(run))

    if options.wants("monitor_timers"):
        await run.attempt("monitor_timers", _monitor_timers(run))

    if options.wants("report_generation"):
        await run.attempt("report_generation", _report_generation(run))

    if options.wants("consumer_batches"):
        await run.attempt("consumer_batches", _consumer_batches(run))

    run.rows += footprint_rows(
        [ServiceFootprint(name, idle, run.after_loads.get(name)) for name, idle in run.idle.items()]
    )
    run.document["footprint"] = footprint_json(run.idle, run.after_loads)
    run.document["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    run.document["elapsed_seconds"] = round(time.monotonic() - started, 1)
    table = markdown_table(sorted(run.rows, key=lambda row: row.benchmark[:1]))
    heading = describe_run(run.document)
    run.document["table_markdown"] = table
    run.document["failures"] = run.failures
    write_json(options.output, run.document)
    options.output.with_suffix(".md").write_text(f"{heading}\n\n{table}\n")
    print(f"\n{heading}\n\n{table}\n")
    print(f"bench: figures written to {options.output} in {run.document['elapsed_seconds']} s")
    return 1 if run.failures else 0


async def _service_benchmarks(run: BenchRun, stack: BenchStack, *, wrk: str, pgbench: str) -> None:
    assert stack.intake is not None
    assert stack.peer is not None
    options = run.options
    unique_keys = [
        key
        for client in await stack.provision_clients(UNIQUE_CLIENTS, keys_per_client=1)
        for key in client.keys
    ]
    (dedup_client,) = await stack.provision_clients(1, keys_per_client=DEDUP_KEYS)
    await asyncio.gather(run.note_idle(stack.intake), run.note_idle(stack.peer))

    throughput = None
    if options.wants("throughput"):
        throughput = await run.attempt(
            "throughput",
            measure_throughput(
                stack, wrk=wrk, pgbench=pgbench, api_keys=unique_keys, options=options
            ),
        )
    if throughput is not None:
        run.document["throughput"] = throughput.as_json()
        run.rows += throughput_rows(throughput)

    dedup = None
    if options.wants("dedup_storm"):
        dedup = await run.attempt(
            "dedup_storm",
            measure_dedup_storm(stack, wrk=wrk, api_keys=dedup_client.keys, options=options),
        )
    if dedup is not None:
        run.document["dedup_storm"] = dedup.as_json()
        run.rows += dedup_rows(dedup, throughput)

    envelopes = None
    if options.wants("envelopes"):
        with tempfile.TemporaryDirectory(prefix="aftercare-bench-envelopes-") as work_dir:
            envelopes = await run.attempt(
                "envelopes",
                measure_envelopes(stack, wrk=wrk, options=options, work_dir=Path(work_dir)),
            )
    if envelopes is not None:
        envelopes = _beside_rest(envelopes, throughput, dedup)
        run.document["envelopes"] = envelopes.as_json()
        run.rows += envelope_rows(envelopes)

    if options.wants("ping_checkins"):
        pings = await run.attempt(
            "ping_checkins",
            measure_ping_checkins(
                stack, wrk=wrk, client_id=dedup_client.client_id, options=options
            ),
        )
        if pings is not None:
            run.document["ping_checkins"] = pings.as_json()
            run.rows += ping_rows(pings)

    if options.profile and options.wants("throughput"):
        summary = await run.attempt(
            "profile", _profile_intake(stack, wrk=wrk, api_keys=unique_keys, options=options)
        )
        if summary is not None:
            run.document["profile"] = profile_json(summary)

    if stack.notify_unavailable is not None:
        run.skip("end_to_end", stack.notify_unavailable)
        run.skip("fan_out", stack.notify_unavailable)
    else:
        if options.wants("end_to_end"):
            capacity = throughput.intake.wrk.acknowledged_per_second if throughput else None
            await run.attempt("end_to_end", _end_to_end(run, stack, unique_keys, capacity))
        if options.wants("fan_out"):
            await run.attempt("fan_out", _fan_out(run, stack))
    run.note_after_loads(stack.intake, stack.peer, stack.notify)


async def _fan_out(run: BenchRun, stack: BenchStack) -> None:
    if stack.notify is None:
        await wait_for_outbox_drain(stack)
        await run.note_idle(await stack.start_notify())
    if run.options.profile:
        summary = await run.attempt(
            "notify_profile",
            profile_notify_fan_out(stack, burst_events=run.options.fan_out_burst_events),
        )
        if summary is not None:
            run.document["notify_profile"] = profile_json(summary)
    results = await measure_fan_out(
        stack,
        burst_events=run.options.fan_out_burst_events,
        paced_seconds=run.options.fan_out_paced_seconds,
        paced_rate=run.options.fan_out_rate,
    )
    run.document["fan_out"] = results.as_json()
    run.rows += fan_out_rows(results)


def _beside_rest(
    envelopes: EnvelopeResults,
    throughput: ThroughputResults | None,
    dedup: DedupResults | None,
) -> EnvelopeResults:
    """The same run's REST figures, for the envelope figures' ratios."""
    return dataclasses.replace(
        envelopes,
        rest_reports_per_second=throughput.intake.wrk.acknowledged_per_second
        if throughput
        else None,
        rest_cpu_ms_per_report=throughput.intake.server_cpu_ms_per_request if throughput else None,
        rest_storm_per_second=dedup.load.wrk.acknowledged_per_second if dedup else None,
    )


async def _end_to_end(
    run: BenchRun, stack: BenchStack, api_keys: list[str], intake_capacity: float | None
) -> None:
    # The consumers' groups are moved to the end of the topics: everything must be there first.
    await wait_for_outbox_drain(stack)
    for reason in stack.consumers_unavailable.values():
        print(f"bench: end_to_end runs without it: {reason}")
    notify, consumers = await asyncio.gather(
        stack.start_notify(), stack.start_consumers_beside_notify()
    )
    await asyncio.gather(*(run.note_idle(p) for p in (notify, *consumers.values())))
    try:
        e2e = await measure_end_to_end(
            stack,
            api_keys=api_keys,
            options=run.options,
            intake_capacity_per_second=intake_capacity,
        )
    finally:
        # sla and releases run for this benchmark only: the fan-out one measures notify alone.
        run.note_after_loads(*consumers.values())
        await stack.stop_consumers_beside_notify()
    run.document["end_to_end"] = {
        **e2e.as_json(),
        "services_unavailable": dict(stack.consumers_unavailable),
    }
    run.rows += end_to_end_rows(e2e)


async def _profile_intake(
    stack: BenchStack, *, wrk: str, api_keys: list[str], options: BenchOptions
) -> ProfileSummary:
    """An extra intake run under py-spy; its figures are not reported (sampling costs CPU)."""
    assert stack.intake is not None
    print("bench: profiling intake under load with py-spy (unmeasured run)…")
    output = RESULTS_DIR / "intake-profile.txt"
    # py-spy starts after wrk has ramped up and stops before wrk does.
    profile_seconds = max(1.0, options.duration_seconds - 2)
    load = asyncio.create_task(
        load_server(
            wrk,
            stack.intake,
            target="profiled run",
            script=UNIQUE_REPORTS_SCRIPT,
            script_args=[f"profile-{stack.run_tag}", *api_keys],
            options=options,
        )
    )
    await asyncio.sleep(1.0)
    try:
        summary = await record_profile(stack.intake.pid, seconds=profile_seconds, output=output)
    finally:
        await load
    print(f"bench: raw profile (collapsed stacks) in {output}")
    return summary


async def _commit_notify(run: BenchRun, pgbench: str) -> None:
    print("bench: commit ceiling with and without NOTIFY (bench/commit_notify.py)…")
    result = await measure_commit_notify(pgbench=pgbench, options=run.options)
    run.document["commit_notify"] = result.as_json()
    run.rows += commit_notify_rows(result)


async def _advisory_matching(run: BenchRun) -> None:
    print("bench: advisory matching (bench/advisory_matching.py)…")
    result = await measure_advisory_matching()
    run.document["advisory_matching"] = result.as_json()
    run.rows += matching_rows(result)


async def _sla_timers(run: BenchRun) -> None:
    print("bench: SLA timers at scale (bench/sla_timers.py)…")
    result = await measure_timer_scale(
        large=run.options.sla_timer_clocks, window=run.options.sla_timer_window_seconds
    )
    run.document["sla_timers"] = result.as_json()
    run.rows += timer_rows(result)


async def _monitor_timers(run: BenchRun) -> None:
    print("bench: monitor timers (bench/monitor_timers.py, five to nine minutes)…")
    result = await measure_monitor_timers()
    run.document["monitor_timers"] = result.as_json()
    run.rows += monitor_timer_rows(result)


async def _report_generation(run: BenchRun) -> None:
    print("bench: report generation (bench/report_generation.py)…")
    result = await measure_report_generation()
    run.document["report_generation"] = result.as_json()
    run.rows += report_rows(result)


async def _consumer_batches(run: BenchRun) -> None:
    print("bench: consumer batches (bench/consumer_batches.py)…")
    result = await measure_consumer_batches(events=run.options.consumer_batch_events)
    run.document["consumer_batches"] = result.as_json()
    run.rows += consumer_batch_rows(result)


def _sla_arithmetic(run: BenchRun) -> None:
    if not run.options.wants("sla_arithmetic"):
        return
    if not sla_time_available():
        run.skip("sla_arithmetic", f"{SLA_TIME_MODULE} is not there yet")
        return
    print("bench: SLA arithmetic (bench/sla_time.py)…")
    try:
        rows = run_sla_arithmetic(run.options.sla_seconds_per_case)
    except Exception as error:  # reported like any failed benchmark
        print(f"bench: sla_arithmetic FAILED: {type(error).__name__}: {error}")
        run.failures["sla_arithmetic"] = "".join(traceback.format_exception(error))[-4000:]
        run.document["sla_arithmetic"] = {"failed": f"{type(error).__name__}: {error}"}
        return
    run.document["sla_arithmetic"] = {"rows": rows}
    run.rows += sla_rows(rows)
