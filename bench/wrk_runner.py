"""Drive ``wrk`` with one of the bench's Lua scripts and read the JSON line it prints."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPTS_DIR = Path(__file__).resolve().parent / "wrk"
SUMMARY_MARKER = "BENCH_WRK_SUMMARY "


class WrkOutputError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run, as measured by the client: closed-loop, fixed connections and time."""

    requests: int
    duration_seconds: float
    acknowledged: int
    """Answers with a 2xx status."""
    refused: int
    """Answers with any other status (3xx included: none is expected here)."""
    socket_errors: int
    """Connect, read, write errors and timeouts: requests that got no answer at all."""
    latency_mean_ms: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    latency_max_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_seconds if self.duration_seconds > 0 else 0.0

    @property
    def acknowledged_per_second(self) -> float:
        return self.acknowledged / self.duration_seconds if self.duration_seconds > 0 else 0.0

    @property
    def errors(self) -> int:
        """Everything that was not a 2xx answer."""
        return self.refused + self.socket_errors


def parse_wrk_output(stdout: str) -> WrkResult:
    """Read the summary line ``bench/wrk/common.lua`` prints when wrk is done."""
    line = next(
        (line for line in stdout.splitlines() if line.startswith(SUMMARY_MARKER)),
        None,
    )
    if line is None:
        raise WrkOutputError(f"no {SUMMARY_MARKER.strip()} line in wrk's output:\n{stdout}")
    try:
        summary: dict[str, Any] = json.loads(line[len(SUMMARY_MARKER) :])
        errors: dict[str, int] = summary["errors"]
        latency: dict[str, float] = summary["latency_us"]
        return WrkResult(
            requests=int(summary["requests"]),
            duration_seconds=summary["duration_us"] / 1_000_000,
            acknowledged=int(summary["acknowledged"]),
            refused=int(summary["refused"]),
            # "status" counts answers >= 400, which ``refused`` already holds.
            socket_errors=sum(
                int(errors[kind]) for kind in ("connect", "read", "write", "timeout")
            ),
            latency_mean_ms=latency["mean"] / 1000,
            latency_p50_ms=latency["p50"] / 1000,
            latency_p90_ms=latency["p90"] / 1000,
            latency_p99_ms=latency["p99"] / 1000,
            latency_max_ms=latency["max"] / 1000,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise WrkOutputError(f"unreadable wrk summary {line!r}: {error}") from error


def wrk_command(
    wrk: str,
    *,
    url: str,
    script: str,
    connections: int,
    threads: int,
    duration_seconds: float,
    script_args: list[str] | None = None,
    timeout_seconds: float = 10.0,
) -> list[str]:
    """The command line; wrk needs at least one connection per thread."""
    threads = max(1, min(threads, connections))
    command = [
        wrk,
        f"--connections={connections}",
        f"--threads={threads}",
        f"--duration={max(1, round(duration_seconds))}s",
        f"--timeout={max(1, round(timeout_seconds))}s",
        f"--script={SCRIPTS_DIR / script}",
        url,
    ]
    if script_args:
        command += ["--", *script_args]
    return command


async def run_wrk(command: list[str]) -> WrkResult:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        raise WrkOutputError(
            f"wrk exited with {process.returncode}: {stderr.decode(errors='replace')}"
        )
    return parse_wrk_output(stdout.decode(errors="replace"))
