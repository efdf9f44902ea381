"""Command-line options of ``bench/run.py`` and the settings every benchmark reads."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCHMARKS = (
    "throughput",
    "commit_notify",
    "dedup_storm",
    "envelopes",
    "end_to_end",
    "fan_out",
    "sla_arithmetic",
    "advisory_matching",
    "sla_timers",
    "monitor_timers",
    "ping_checkins",
    "report_generation",
    "consumer_batches",
)


@dataclass(frozen=True, slots=True)
class BenchOptions:
    duration_seconds: float
    """Measured time of each wrk / pgbench run."""
    warmup_seconds: float
    """Unmeasured load before each server's measured run (pools fill, caches warm)."""
    connections: int
    threads: int
    """wrk threads and pgbench jobs: as many as the machine has cores, at most 2."""
    e2e_rate: float
    e2e_seconds: float
    e2e_drain_seconds: float
    """How long to wait after the paced load for the last webhooks."""
    sla_seconds_per_case: float
    profile: bool
    keep_databases: bool
    output: Path
    fan_out_burst_events: int = 200
    fan_out_paced_seconds: float = 15.0
    fan_out_rate: float = 40.0
    only: frozenset[str] = frozenset()
    """Benchmarks to run (empty: all)."""
    sla_timer_clocks: int = 1_000_000
    """Open-but-not-due clocks of the large sla-timers run (the small one has 10,000)."""
    sla_timer_window_seconds: float = 20.0
    """How long clocks keep coming due in each sla-timers run."""
    consumer_batch_events: int = 5_000
    """Events each mode of the consumer-batches bench applies."""
    two_workers: bool = True
    """Benchmark 1 also runs intake and both peers with ``--workers 2``."""

    def wants(self, benchmark: str) -> bool:
        return not self.only or benchmark in self.only

    def as_settings(self) -> dict[str, object]:
        """What the JSON records about how the figures were taken."""
        return {
            "duration_seconds": self.duration_seconds,
            "warmup_seconds": self.warmup_seconds,
            "connections": self.connections,
            "threads": self.threads,
            "e2e_rate_per_second": self.e2e_rate,
            "e2e_seconds": self.e2e_seconds,
            "sla_seconds_per_case": self.sla_seconds_per_case,
            "fan_out_burst_events": self.fan_out_burst_events,
            "fan_out_paced_seconds": self.fan_out_paced_seconds,
            "sla_timer_clocks": self.sla_timer_clocks,
            "sla_timer_window_seconds": self.sla_timer_window_seconds,
            "consumer_batch_events": self.consumer_batch_events,
            "fan_out_events_per_second": self.fan_out_rate,
            "two_worker_runs": self.two_workers,
            "only": sorted(self.only),
        }


def parse_options(argv: Sequence[str]) -> BenchOptions:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark intake and the end-to-end flow against same-run baselines.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short runs (a ~2 minute smoke test of the bench)"
    )
    parser.add_argument("--duration", type=float, help="seconds per measured run (default 15)")
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help="wrk connections and pgbench clients (default 32)",
    )
    parser.add_argument("--threads", type=int, help="wrk threads / pgbench jobs")
    parser.add_argument(
        "--e2e-rate", type=float, default=200.0, help="end-to-end reports/s, paced (default 200)"
    )
    parser.add_argument("--e2e-seconds", type=float, help="paced load length (default 30)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile intake under load with py-spy (an extra, unmeasured run)",
    )
    parser.add_argument(
        "--fan-out-rate",
        type=float,
        default=40.0,
        help="events/s of the paced fan-out runs, each to 50 endpoints (default 40)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated benchmarks to run: " + ", ".join(BENCHMARKS) + " (default: all)",
    )
    parser.add_argument(
        "--no-two-workers",
        action="store_true",
        help="skip benchmark 1's runs of intake and the peers with --workers 2 (saves three"
        " warm-ups and measured runs)",
    )
    parser.add_argument(
        "--keep-databases", action="store_true", help="leave the run's databases for inspection"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "latest.json", help="where the JSON goes"
    )
    arguments = parser.parse_args(list(argv))
    if arguments.connections < 1 or arguments.e2e_rate <= 0:
        parser.error("--connections and --e2e-rate must be positive")
    only = frozenset(name.strip() for name in arguments.only.split(",") if name.strip())
    if unknown := only - set(BENCHMARKS):
        parser.error(f"unknown benchmarks {sorted(unknown)}; known: {', '.join(BENCHMARKS)}")
    quick = bool(arguments.quick)
    duration = arguments.duration or (5.0 if quick else 15.0)
    return BenchOptions(
        duration_seconds=duration,
        warmup_seconds=1.0 if quick else 3.0,
        connections=arguments.connections,
        threads=arguments.threads or max(1, min(2, os.cpu_count() or 1)),
        e2e_rate=arguments.e2e_rate,
        e2e_seconds=arguments.e2e_seconds or (10.0 if quick else 30.0),
        e2e_drain_seconds=30.0,
        sla_seconds_per_case=0.5 if quick else 2.0,
        profile=bool(arguments.profile),
        keep_databases=bool(arguments.keep_databases),
        output=arguments.output,
        fan_out_burst_events=60 if quick else 200,
        fan_out_paced_seconds=5.0 if quick else 15.0,
        fan_out_rate=arguments.fan_out_rate,
        only=only,
        sla_timer_clocks=100_000 if quick else 1_000_000,
        sla_timer_window_seconds=8.0 if quick else 20.0,
        consumer_batch_events=2_000 if quick else 5_000,
        two_workers=not arguments.no_two_workers,
    )
