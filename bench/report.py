"""Turn the figures into the Markdown table people read and the JSON tools compare."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.dedup_storm import DedupResults
from bench.end_to_end import EndToEndResults
from bench.fan_out import FanOutResults
from bench.footprint import Footprint
from bench.load_runs import LoadRun
from bench.profile_summary import ProfileSummary
from bench.stats import ratio
from bench.throughput import ThroughputResults, TwoWorkerResults

MISSING = "n/a"


@dataclass(frozen=True, slots=True)
class TableRow:
    benchmark: str
    figure: str
    aftercare: str
    baseline: str = ""
    baseline_value: str = ""
    ratio: str = ""


@dataclass(frozen=True, slots=True)
class ServiceFootprint:
    service: str
    idle: Footprint
    after_loads: Footprint | None


def number(value: float | None, digits: int = 0) -> str:
    """``1234.5`` → ``1,235``; None → ``n/a``."""
    if value is None:
        return MISSING
    return f"{value:,.{digits}f}"


def ratio_text(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}x"


def pair(first: float | None, second: float | None, digits: int = 1) -> str:
    return f"{number(first, digits)} / {number(second, digits)}"


def triple(values: Mapping[str, float | None] | None, digits: int = 0) -> str:
    if values is None:
        return "not exposed"
    return " / ".join(number(values.get(key), digits) for key in ("p50", "p95", "p99"))


def markdown_table(rows: Sequence[TableRow]) -> str:
    header = ["benchmark", "figure", "Aftercare", "baseline", "baseline figure", "ratio"]
    lines = [
        "| " + " | ".join(header) + " |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    for row in rows:
        cells = [
            row.benchmark,
            row.figure,
            row.aftercare,
            row.baseline,
            row.baseline_value,
            row.ratio,
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


# What one request costs, each compared with both peers: the server's CPU and Postgres's.
_COSTS_PER_REQUEST: tuple[tuple[str, Callable[[LoadRun], float | None]], ...] = (
    ("server CPU ms / request", lambda run: run.server_cpu_ms_per_request),
    ("Postgres CPU ms / request (the whole cluster)", lambda run: run.postgres_cpu_ms_per_request),
    # Counts, unmoved by a busy machine (bench/postgres_counters.py).
    (
        "Postgres write transactions / request",
        lambda run: run.write_transactions_per_request,
    ),
    ("WAL KiB / request", lambda run: run.wal_kib_per_request),
)


def throughput_rows(results: ThroughputResults) -> list[TableRow]:
    intake, peer, ceiling, db = (
        results.intake,
        results.peer,
        results.http_ceiling,
        results.db_ceiling,
    )
    name = "1 durable intake"
    peer_name = "peer: FastAPI + 1 asyncpg INSERT"
    durable_name = "durable peer: FastAPI + 1 asyncpg statement (key, dedup, outbox)"
    durable = results.peer_durable
    outbox = results.outbox
    drained = (
        f"{number(outbox.backlog_rows)} rows, drained in {number(outbox.drain_seconds, 1)} s"
        if outbox.drain_seconds is not None
        else f"{number(outbox.backlog_rows)} rows, not drained"
    )
    return [
        TableRow(
            name,
            "reports/s (2xx)",
            number(intake.wrk.acknowledged_per_second),
            peer_name,
            number(peer.wrk.acknowledged_per_second),
            ratio_text(results.intake_vs_peer),
        ),
        TableRow(
            name,
            "reports/s (2xx)",
            number(intake.wrk.acknowledged_per_second),
            durable_name,
            number(durable.wrk.acknowledged_per_second),
            ratio_text(results.intake_vs_peer_durable),
        ),
        TableRow(
            name,
            "reports/s (2xx)",
            number(intake.wrk.acknowledged_per_second),
            "DB ceiling: pgbench 1-row INSERT",
            number(db.transactions_per_second),
            ratio_text(results.intake_vs_db_ceiling),
        ),
        TableRow(
            name,
            "latency p50 / p99 ms",
            pair(intake.wrk.latency_p50_ms, intake.wrk.latency_p99_ms),
            peer_name,
            pair(peer.wrk.latency_p50_ms, peer.wrk.latency_p99_ms),
            ratio_text(ratio(intake.wrk.latency_p50_ms, peer.wrk.latency_p50_ms)),
        ),
        TableRow(
            name,
            "errors (non-2xx + socket)",
            number(intake.wrk.errors),
            peer_name,
            number(peer.wrk.errors),
        ),
        *(
            TableRow(
                name,
                figure,
                number(cost(intake), 2),
                baseline_name,
                number(cost(baseline), 2),
                ratio_text(ratio(cost(intake), cost(baseline))),
            )
            for figure, cost in _COSTS_PER_REQUEST
            for baseline_name, baseline in ((peer_name, peer), (durable_name, durable))
        ),
        TableRow(
            name,
            "server CPU use (cores)",
            number(intake.server_cpu_utilisation, 2),
            peer_name,
            number(peer.server_cpu_utilisation, 2),
        ),
        TableRow(
            "1 ceilings",
            "requests/s · p50 / p99 ms",
            "",
            "HTTP: same bare app, GET /ping",
            f"{number(ceiling.wrk.acknowledged_per_second)} · "
            f"{pair(ceiling.wrk.latency_p50_ms, ceiling.wrk.latency_p99_ms)}",
        ),
        TableRow(
            "1 ceilings",
            "transactions/s · p50 / p99 ms",
            "",
            "DB: pgbench 1-row INSERT",
            f"{number(db.transactions_per_second)} · {pair(db.latency_p50_ms, db.latency_p99_ms)}",
        ),
        TableRow(name, "outbox backlog at end of load", drained),
        TableRow(
            name,
            "acknowledged · tickets committed · with outbox row",
            f"{number(intake.wrk.acknowledged)} · {number(results.committed.tickets)} · "
            f"{number(results.committed.with_outbox_row)} "
            + ("✓ all durable" if results.durable else "✗ MISSING ROWS"),
        ),
        *two_worker_rows(results),
    ]


def two_worker_rows(results: ThroughputResults) -> list[TableRow]:
    """Benchmark 1 again with ``--workers 2`` for intake and both peers."""
    two = results.two_workers
    if two is None:
        return []
    name = "1 intake, 2 workers"
    peer_name = "peer, 2 workers"
    durable_name = "durable peer, 2 workers"
    scaling = results.scaling
    return [
        TableRow(
            name,
            "reports/s (2xx)",
            number(two.intake.wrk.acknowledged_per_second),
            peer_name,
            number(two.peer.wrk.acknowledged_per_second),
            ratio_text(two.intake_vs_peer),
        ),
        TableRow(
            name,
            "reports/s (2xx)",
            number(two.intake.wrk.acknowledged_per_second),
            durable_name,
            number(two.peer_durable.wrk.acknowledged_per_second),
            ratio_text(two.intake_vs_peer_durable),
        ),
        *(
            TableRow(
                f"1 {label}, 2 workers",
                "reports/s (2xx), 2 workers vs 1",
                number(pair_of_runs[1].wrk.acknowledged_per_second),
                f"{label}, 1 worker",
                number(pair_of_runs[0].wrk.acknowledged_per_second),
                ratio_text(scaling(*pair_of_runs)),
            )
            for label, pair_of_runs in (
                ("intake", (results.intake, two.intake)),
                ("peer", (results.peer, two.peer)),
                ("durable peer", (results.peer_durable, two.peer_durable)),
            )
        ),
        TableRow(
            name,
            "latency p50 / p99 ms",
            pair(two.intake.wrk.latency_p50_ms, two.intake.wrk.latency_p99_ms),
            peer_name,
            pair(two.peer.wrk.latency_p50_ms, two.peer.wrk.latency_p99_ms),
            ratio_text(ratio(two.intake.wrk.latency_p50_ms, two.peer.wrk.latency_p50_ms)),
        ),
        *(
            TableRow(
                name,
                f"{figure} (parent + workers)" if figure.startswith("server") else figure,
                number(cost(two.intake), 2),
                baseline_name,
                number(cost(baseline), 2),
                ratio_text(ratio(cost(two.intake), cost(baseline))),
            )
            for figure, cost in _COSTS_PER_REQUEST
            for baseline_name, baseline in ((peer_name, two.peer), (durable_name, two.peer_durable))
        ),
        TableRow(
            name,
            "server CPU use (cores, parent + workers)",
            number(two.intake.server_cpu_utilisation, 2),
            peer_name,
            number(two.peer.server_cpu_utilisation, 2),
        ),
        TableRow(
            name,
            "acknowledged · tickets committed · with outbox row",
            _durability(two),
        ),
    ]


def _durability(two: TwoWorkerResults) -> str:
    committed = two.committed
    return (
        f"{number(two.intake.wrk.acknowledged)} · {number(committed.tickets)} · "
        f"{number(committed.with_outbox_row)} "
        + ("✓ all durable" if two.durable else "✗ MISSING ROWS")
    )


def dedup_rows(dedup: DedupResults, unique: ThroughputResults | None) -> list[TableRow]:
    name = "2 dedup storm"
    unique_rate = unique.intake.wrk.acknowledged_per_second if unique else None
    verdict = "✓ nothing lost" if dedup.nothing_lost else "✗ MISMATCH"
    return [
        TableRow(
            name,
            "reports/s (2xx)",
            number(dedup.load.wrk.acknowledged_per_second),
            "intake, unique reports",
            number(unique_rate),
            ratio_text(ratio(dedup.load.wrk.acknowledged_per_second, unique_rate)),
        ),
        TableRow(
            name,
            "latency p50 / p99 ms · errors",
            f"{pair(dedup.load.wrk.latency_p50_ms, dedup.load.wrk.latency_p99_ms)}"
            f" · {number(dedup.load.wrk.errors)}",
        ),
        TableRow(
            name,
            "tickets · occurrences = acknowledged",
            f"{dedup.tickets} · {number(dedup.occurrences)} = "
            f"{number(dedup.server_acknowledged)} {verdict}",
        ),
    ]


def end_to_end_rows(e2e: EndToEndResults) -> list[TableRow]:
    name = "3 end-to-end"
    load = e2e.load
    answer = load.answer_latency_ms
    return [
        TableRow(
            name,
            "report sent → signed webhook p50 / p95 / p99 ms",
            f"{number(e2e.latency_ms(50))} / {number(e2e.latency_ms(95))} / "
            f"{number(e2e.latency_ms(99))}",
            "intake's own answer (201)",
            f"{number(answer(50), 1)} / {number(answer(95), 1)} / {number(answer(99), 1)}",
            ratio_text(ratio(e2e.latency_ms(50), answer(50))),
        ),
        TableRow(
            name,
            "paced rate, reports/s"
            + (" (OVER CAPACITY: latencies are queueing)" if e2e.over_capacity else ""),
            number(e2e.rate_per_second),
            "intake capacity (benchmark 1)",
            number(e2e.intake_capacity_per_second),
            ratio_text(ratio(e2e.rate_per_second, e2e.intake_capacity_per_second)),
        ),
        TableRow(
            name,
            "webhooks received/s",
            number(e2e.webhooks_per_second),
            "reports sent/s",
            number(load.achieved_rate),
            ratio_text(ratio(e2e.webhooks_per_second, load.achieved_rate)),
        ),
        TableRow(
            name,
            "paced load: sent · acknowledged · webhooks · missing · dup",
            f"{number(len(load.sent_at))} at {number(load.achieved_rate)}/s · "
            f"{number(len(load.acknowledged))} · {number(len(e2e.latencies_ms))} · "
            f"{number(e2e.missing)} · {number(e2e.duplicates)}",
        ),
        TableRow(
            name,
            "outbox → relay claim p50 / p95 / p99 ms (DB)",
            triple(e2e.outbox_claim_lag_ms),
        ),
        TableRow(
            name,
            "outbox lag gauge, max sampled ms (/metrics)",
            number(e2e.outbox_lag_gauge_max_ms),
        ),
        TableRow(
            name,
            "event time → notify fan-out p50 / p95 / p99 ms (/metrics)",
            triple(e2e.fanout_lag_ms),
        ),
        TableRow(
            name,
            "webhook request p50 / p95 / p99 ms (/metrics)",
            triple(e2e.delivery_latency_ms, 1),
        ),
        TableRow(
            name,
            "CPU ms per acknowledged report over the window: " + " · ".join(e2e.cpu_seconds),
            " · ".join(number(e2e.cpu_ms_per_report(service), 2) for service in e2e.cpu_seconds),
        ),
        TableRow(
            name,
            "bench process (load generator + webhook receiver) CPU use over the window, cores",
            number(e2e.bench_busy_cores, 2)
            + (" (SATURATED: latencies include its own queue)" if e2e.bench_saturated else ""),
        ),
        TableRow(
            name,
            "ticket events applied in the window (/metrics): "
            + " · ".join(e2e.ticket_events_applied),
            " · ".join(number(applied) for applied in e2e.ticket_events_applied.values()),
            "reports acknowledged",
            number(len(load.acknowledged)),
        ),
        TableRow(
            name,
            "consumer lag on aftercare.tickets, largest sampled → at end, records: "
            + " · ".join(e2e.consumer_lag_largest),
            " · ".join(
                f"{number(largest)} → {number(e2e.consumer_lag_at_end.get(service))}"
                for service, largest in e2e.consumer_lag_largest.items()
            )
            + (
                f" (BEHIND: {', '.join(e2e.consumers_behind)})"
                if e2e.consumers_behind
                else " ✓ kept up"
            ),
        ),
    ]


def fan_out_rows(fan: FanOutResults) -> list[TableRow]:
    name = "6 notify fan-out"
    missing = ", ".join(f"{label}: {count}" for label, count in fan.missing.items()) or "none"
    return [
        TableRow(
            name,
            f"webhook deliveries/s ({fan.burst_events} events x {fan.endpoints} endpoints)",
            number(fan.notify_per_second),
            "bare sender: same signed POSTs, keep-alive",
            number(fan.bare_per_second),
            ratio_text(fan.notify_vs_bare),
        ),
        TableRow(
            name,
            "CPU ms per delivery (notify: whole process over the burst)",
            number(fan.notify_cpu_ms_per_delivery, 3),
            "bare sender (bench process)",
            number(fan.bare_cpu_ms_per_delivery, 3),
            ratio_text(ratio(fan.notify_cpu_ms_per_delivery, fan.bare_cpu_ms_per_delivery)),
        ),
        TableRow(
            name,
            "signatures verified (sample) · rejected · deliveries missing",
            f"{fan.signatures_verified} · {fan.signatures_rejected} · {missing}",
        ),
        TableRow(
            name,
            f"event → webhook p50 / p95 / p99 ms, {fan.paced_rate:g} events/s, all healthy",
            triple(
                {"p50": fan.healthy_p50_ms, "p95": fan.healthy_p95_ms, "p99": fan.healthy_p99_ms}
            ),
        ),
        TableRow(
            name,
            f"healthy endpoints' p50 / p95 / p99 ms with {fan.blackholed} of {fan.endpoints} "
            "blackholed",
            triple(
                {
                    "p50": fan.isolated_p50_ms,
                    "p95": fan.isolated_p95_ms,
                    "p99": fan.isolated_p99_ms,
                }
            ),
            "all-healthy run, p95",
            number(fan.healthy_p95_ms),
            ratio_text(fan.isolation_ratio),
        ),
    ]


def footprint_rows(footprints: Sequence[ServiceFootprint]) -> list[TableRow]:
    peer = next((item for item in footprints if item.service == "peer"), None)
    rows: list[TableRow] = []
    for item in footprints:
        if item.service == "peer":
            continue
        rows.append(
            TableRow(
                "4 footprint",
                f"{item.service}: RSS MiB idle → after loads",
                _idle_to_after(item, "rss"),
                "peer app" if peer else "",
                _idle_to_after(peer, "rss") if peer else "",
                ratio_text(ratio(item.idle.rss_mib, peer.idle.rss_mib)) if peer else "",
            )
        )
        rows.append(
            TableRow(
                "4 footprint",
                f"{item.service}: CPU s idle → after loads",
                _idle_to_after(item, "cpu"),
                "peer app" if peer else "",
                _idle_to_after(peer, "cpu") if peer else "",
            )
        )
    return rows


def _idle_to_after(item: ServiceFootprint, which: str) -> str:
    def value(footprint: Footprint | None) -> float | None:
        if footprint is None:
            return None
        return footprint.rss_mib if which == "rss" else footprint.cpu_seconds

    return f"{number(value(item.idle), 1)} → {number(value(item.after_loads), 1)}"


# Keys bench/sla_time.py rows may use, tried in order; anything else goes into the figure.
_SLA_NAME_KEYS = ("benchmark", "case", "name", "operation")
_SLA_RATIO_KEYS = ("ratio", "speedup", "relative")
# Explanations stay in the JSON; the table has no room for sentences.
_SLA_PROSE_KEYS = ("note", "notes", "description")


def sla_rows(rows: Sequence[Mapping[str, object]]) -> list[TableRow]:
    """Rows from ``bench/sla_time.py``, whatever their exact keys, in the common columns.

    A name key (``benchmark``…) names the row, ``*per_second*`` keys are the figures,
    keys with ``baseline`` in them describe (text) or measure (numbers) the baseline, and
    a ``ratio`` key fills the ratio column; other keys are appended to the figure.
    """
    table: list[TableRow] = []
    for row in rows:
        name_key = next((key for key in _SLA_NAME_KEYS if key in row), None)
        ratio_key = next((key for key in _SLA_RATIO_KEYS if key in row), None)
        rate_keys = [key for key in row if "per_second" in key and "baseline" not in key]
        baseline_keys = [key for key in row if "baseline" in key]
        measured = [key for key in baseline_keys if _is_number(row[key])]
        described = [str(row[key]) for key in baseline_keys if not _is_number(row[key])]
        used = {name_key, ratio_key, *rate_keys, *baseline_keys, *_SLA_PROSE_KEYS}
        figure = [str(row[name_key])] if name_key else []
        figure += [f"{key}={row[key]}" for key in row if key not in used]
        baseline_text = " · ".join(described) or ("same-run baseline" if measured else "")
        table.append(
            TableRow(
                "5 SLA arithmetic",
                " ".join(figure) or "(unnamed)",
                " · ".join(f"{_cell(row[key])} {_rate_unit(key)}" for key in rate_keys),
                baseline_text,
                " · ".join(f"{_cell(row[key])} {_rate_unit(key)}" for key in measured),
                _ratio_cell(row[ratio_key]) if ratio_key else "",
            )
        )
    return table


def _rate_unit(key: str) -> str:
    """``ops_per_second`` → ``ops/s``; ``baseline_ops_per_second`` → ``ops/s``."""
    unit = key.removeprefix("baseline_")
    return "per s" if unit == "per_second" else unit.replace("_per_second", "/s")


def _ratio_cell(value: object) -> str:
    if not _is_number(value):
        return str(value)
    assert isinstance(value, int | float)
    return f"{number(float(value), 2 if abs(value) < 10 else 0)}x"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number(float(value), 0 if abs(value) >= 100 else 2)
    return str(value)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    temporary.replace(path)  # never leave a half-written file where tools look


def footprint_json(
    idle: Mapping[str, Footprint], after_loads: Mapping[str, Footprint]
) -> dict[str, Any]:
    def figures(footprint: Footprint | None) -> dict[str, float] | None:
        if footprint is None:
            return None
        return {
            "rss_mib": round(footprint.rss_mib, 1),
            "cpu_seconds": round(footprint.cpu_seconds, 2),
        }

    return {
        name: {"idle": figures(footprint), "after_loads": figures(after_loads.get(name))}
        for name, footprint in idle.items()
    }


def profile_json(summary: ProfileSummary) -> dict[str, Any]:
    def shares(items: list[tuple[str, float]]) -> list[dict[str, object]]:
        return [{"name": name, "share": round(share, 3)} for name, share in items]

    return {
        "samples": summary.total_samples,
        "components_inclusive": shares(summary.components_inclusive),
        "components_self": shares(summary.components_self),
        "functions_inclusive": shares(summary.functions_inclusive),
        "functions_self": shares(summary.functions_self),
    }


def describe_run(document: Mapping[str, Any]) -> str:
    """The lines above the table: what ran, on what, with which settings."""
    machine = document.get("machine", {})
    postgres = machine.get("postgres", {})
    settings = document.get("settings", {})
    load_average = machine.get("load_average_at_start") or [None]
    lines = [
        f"**Machine**: {machine.get('cpu_model')}, {machine.get('logical_cpus')} logical CPUs, "
        f"{machine.get('memory_gib')} GiB RAM; {machine.get('os')}, Linux "
        f"{machine.get('kernel')}; Python {machine.get('python')}; PostgreSQL "
        f"{postgres.get('version')} (fsync {postgres.get('fsync')}, synchronous_commit "
        f"{postgres.get('synchronous_commit')}); load average at start {load_average[0]}.",
        f"**Load**: {machine.get('wrk')}, {settings.get('connections')} connections, "
        f"{settings.get('threads')} threads, {number(settings.get('duration_seconds'))} s per "
        f"run after a {number(settings.get('warmup_seconds'))} s warm-up; pgbench with as "
        f"many clients and jobs for as long; end-to-end "
        f"{number(settings.get('e2e_rate_per_second'))} reports/s for "
        f"{number(settings.get('e2e_seconds'))} s.",
        f"**Servers**: {settings.get('servers')}; database pool {settings.get('database_pool')}.",
        f"Run {document.get('started_at')}, {number(document.get('elapsed_seconds'))} s in all.",
    ]
    end_to_end = document.get("end_to_end")
    if isinstance(end_to_end, Mapping) and end_to_end.get("over_capacity"):
        lines.append(
            f"**Warning**: the pipeline did not keep up with the paced end-to-end rate "
            f"({number(settings.get('e2e_rate_per_second'))}/s; intake's capacity "
            f"{number(end_to_end.get('intake_capacity_per_second'))}/s, webhooks arrived at "
            f"{number(end_to_end.get('webhooks_per_second'))}/s"
            + (
                f"; fell behind: {', '.join(end_to_end['consumers_behind'])}"
                if end_to_end.get("consumers_behind")
                else ""
            )
            + (
                "; the bench process itself was saturated"
                if end_to_end.get("bench_process_saturated")
                else ""
            )
            + "): its latencies measure a queue; rerun with a lower `--e2e-rate` for the "
            "pipeline's own latency."
        )
    if isinstance(end_to_end, Mapping) and end_to_end.get("services_unavailable"):
        reasons = "; ".join(end_to_end["services_unavailable"].values())
        lines.append(f"**End-to-end ran without**: {reasons}.")
    busy = load_average[0] is not None and load_average[0] > 0.5 * (
        machine.get("logical_cpus") or 1
    )
    if busy:
        lines.append(
            f"**Warning**: the machine was busy before the run (load average {load_average[0]}):"
            " absolute figures are low; the same-run ratios are what to compare."
        )
    for section in ("throughput", "dedup_storm", "end_to_end", "sla_arithmetic", "profile"):
        value = document.get(section)
        if isinstance(value, Mapping) and "skipped" in value:
            lines.append(f"Skipped {section}: {value['skipped']}.")
        if isinstance(value, Mapping) and "failed" in value:
            lines.append(f"**FAILED** {section}: {value['failed']}.")
    return "\n".join(
        f"{line}  " if index < len(lines) - 1 else line for index, line in enumerate(lines)
    )
