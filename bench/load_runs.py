"""One wrk run against one server, with the server's CPU time over the run.

The server's CPU is its whole process tree's (``bench/process_cpu.py``): with one worker
that is the uvicorn process itself; with ``--workers 2`` the supervising parent and both
worker children, so CPU per request compares like with like.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.options import BenchOptions
from bench.postgres_counters import PostgresCounters, read_counters
from bench.postgres_cpu import cluster_cpu_seconds
from bench.process_cpu import tree_cpu_seconds
from bench.processes import UvicornProcess
from bench.wrk_runner import WrkResult, run_wrk, wrk_command


@dataclass(frozen=True, slots=True)
class LoadRun:
    target: str
    wrk: WrkResult
    server_cpu_seconds: float
    """CPU the server's process tree used during the run (parent and any worker children)."""
    postgres_cpu_seconds: float | None = None
    """CPU the whole Postgres cluster used during the run, when its postmaster was given."""
    postgres_counts: PostgresCounters | None = None
    """Write transactions and WAL bytes of the whole cluster during the run, when asked."""

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if self.wrk.requests == 0:
            return None
        return self.server_cpu_seconds * 1000 / self.wrk.requests

    @property
    def postgres_cpu_ms_per_request(self) -> float | None:
        if self.postgres_cpu_seconds is None or self.wrk.requests == 0:
            return None
        return self.postgres_cpu_seconds * 1000 / self.wrk.requests

    @property
    def write_transactions_per_request(self) -> float | None:
        if self.postgres_counts is None or self.wrk.requests == 0:
            return None
        return self.postgres_counts.write_transactions / self.wrk.requests

    @property
    def wal_kib_per_request(self) -> float | None:
        if self.postgres_counts is None or self.wrk.requests == 0:
            return None
        return self.postgres_counts.wal_bytes / 1024 / self.wrk.requests

    @property
    def server_cpu_utilisation(self) -> float:
        """Cores' worth of CPU the server used: near 1.0 means it was CPU-bound."""
        return self.server_cpu_seconds / self.wrk.duration_seconds

    def as_json(self) -> dict[str, Any]:
        wrk = self.wrk
        return {
            "target": self.target,
            "requests": wrk.requests,
            "duration_seconds": round(wrk.duration_seconds, 3),
            "requests_per_second": round(wrk.requests_per_second, 1),
            "acknowledged": wrk.acknowledged,
            "acknowledged_per_second": round(wrk.acknowledged_per_second, 1),
            "errors": wrk.errors,
            "non_2xx": wrk.refused,
            "socket_errors": wrk.socket_errors,
            "latency_ms": {
                "mean": round(wrk.latency_mean_ms, 2),
                "p50": round(wrk.latency_p50_ms, 2),
                "p90": round(wrk.latency_p90_ms, 2),
                "p99": round(wrk.latency_p99_ms, 2),
                "max": round(wrk.latency_max_ms, 2),
            },
            "server_cpu_seconds": round(self.server_cpu_seconds, 2),
            "server_cpu_ms_per_request": _rounded(self.server_cpu_ms_per_request, 3),
            "server_cpu_utilisation": round(self.server_cpu_utilisation, 2),
            "postgres_cpu_ms_per_request": _rounded(self.postgres_cpu_ms_per_request, 3),
            "postgres_write_transactions_per_request": _rounded(
                self.write_transactions_per_request, 3
            ),
            "postgres_wal_kib_per_request": _rounded(self.wal_kib_per_request, 3),
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


async def load_server(
    wrk: str,
    server: UvicornProcess,
    *,
    target: str,
    script: str,
    script_args: list[str],
    options: BenchOptions,
    seconds: float | None = None,
    postmaster_pid: int | None = None,
    counters_url: str | None = None,
) -> LoadRun:
    command = wrk_command(
        wrk,
        url=server.url,
        script=script,
        connections=options.connections,
        threads=options.threads,
        duration_seconds=seconds if seconds is not None else options.duration_seconds,
        script_args=script_args,
    )
    counts_before = None if counters_url is None else await read_counters(counters_url)
    postgres_before = None if postmaster_pid is None else cluster_cpu_seconds(postmaster_pid)
    before = tree_cpu_seconds(server.pid)
    result = await run_wrk(command)
    after = tree_cpu_seconds(server.pid)
    counts = (
        None
        if counters_url is None or counts_before is None
        else (await read_counters(counters_url)).since(counts_before)
    )
    postgres = (
        None
        if postmaster_pid is None or postgres_before is None
        else cluster_cpu_seconds(postmaster_pid) - postgres_before
    )
    return LoadRun(target, result, after - before, postgres, counts)


async def warm_up(
    wrk: str,
    server: UvicornProcess,
    *,
    script: str,
    script_args: list[str],
    options: BenchOptions,
    analyze: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Unmeasured load first: pools open their connections, first-call costs are paid.

    With ``analyze`` (:meth:`bench.stack.BenchStack.analyze`), the tables the load filled
    get their statistics, and a second, shorter load lets every pooled connection plan
    again the statements ``ANALYZE`` invalidated (a cold plan of intake's report statement
    costs milliseconds: paid here, not in the measured run).
    """
    if options.warmup_seconds <= 0:
        return
    await load_server(
        wrk,
        server,
        target="warm-up",
        script=script,
        script_args=script_args,
        options=options,
        seconds=options.warmup_seconds,
    )
    if analyze is not None:
        await analyze()
        await load_server(
            wrk,
            server,
            target="warm-up after ANALYZE",
            script=script,
            script_args=[f"{script_args[0]}-again", *script_args[1:]] if script_args else [],
            options=options,
            seconds=max(1.0, options.warmup_seconds / 3),
        )
