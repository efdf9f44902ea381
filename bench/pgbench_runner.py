"""The database ceiling: ``pgbench`` inserting one intake-sized row per transaction."""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.stats import percentile

# The row the peer and intake write, in SQL: same columns, a body of the same size.
ONE_ROW_INSERT = """\
INSERT INTO {table} (
    id, client_id, title, description, severity, priority, kind, status, fingerprint,
    environment, release, stacktrace, context, first_seen_at, last_seen_at, created_at,
    updated_at, occurrence_announced_at
) VALUES (
    gen_random_uuid()::text, 'pgbench-client',
    'Checkout failed for order ' || :client_id, 'Payment provider answered 502 while
capturing the order; the customer saw a generic error page and retried.',
    'high', 'P2', 'bug', 'new', gen_random_uuid()::text, 'production', 'shop@4.2.1',
    'Traceback (most recent call last):
  File "shop/checkout.py", line 218, in capture
    receipt = provider.capture(order.payment_id)
  File "shop/payments/client.py", line 91, in capture
    response.raise_for_status()
  File "httpx/_models.py", line 829, in raise_for_status
    raise HTTPStatusError(message, request=request, response=self)
httpx.HTTPStatusError: Server error 502 Bad Gateway',
    '{{"order_sequence": 1, "thread": 0, "user_agent": "Mozilla/5.0", "locale": "en-GB"}}',
    now(), now(), now(), now(), now()
);
"""

_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)
_PROCESSED = re.compile(r"^number of transactions actually processed: (\d+)", re.MULTILINE)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.MULTILINE)


class PgbenchOutputError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PgbenchResult:
    transactions_per_second: float
    transactions: int
    failed: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None


def parse_pgbench_summary(stdout: str) -> tuple[float, int, int]:
    """``(tps, transactions, failed)`` from pgbench's report (failed is 0 before PG 15)."""
    tps = _TPS.search(stdout)
    processed = _PROCESSED.search(stdout)
    if tps is None or processed is None:
        raise PgbenchOutputError(f"no tps/transactions in pgbench's output:\n{stdout}")
    failed = _FAILED.search(stdout)
    return float(tps.group(1)), int(processed.group(1)), int(failed.group(1)) if failed else 0


def parse_transaction_log(lines: Iterable[str]) -> list[float]:
    """Latencies in ms from pgbench ``--log`` lines.

    Each line is ``client_id transaction_no time script_no time_epoch time_us [...]`` with
    ``time`` the transaction's latency in µs; a failed transaction shows ``failed`` or
    ``skipped`` there and has no latency.
    """
    latencies: list[float] = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2].isdigit():
            latencies.append(int(fields[2]) / 1000)
    return latencies


def _logged_latencies(workdir: Path) -> list[float]:
    """Every transaction's latency from the per-job log files ``--log`` wrote."""
    latencies: list[float] = []
    for log_file in workdir.glob("transactions.*"):
        with log_file.open() as lines:
            latencies += parse_transaction_log(lines)
    return latencies


async def run_pgbench(
    pgbench: str,
    *,
    libpq_url: str,
    table: str,
    connections: int,
    threads: int,
    duration_seconds: float,
    transaction: str | None = None,
) -> PgbenchResult:
    """pgbench running ``transaction`` (default: :data:`ONE_ROW_INSERT` into ``table``)."""
    with tempfile.TemporaryDirectory(prefix="aftercare-pgbench-") as workdir:
        script = Path(workdir) / "transaction.sql"
        script.write_text(transaction or ONE_ROW_INSERT.format(table=table))
        log_prefix = Path(workdir) / "transactions"
        process = await asyncio.create_subprocess_exec(
            pgbench,
            "--no-vacuum",
            "--protocol=prepared",  # as asyncpg does: parse once, execute many times
            f"--client={connections}",
            f"--jobs={max(1, min(threads, connections))}",
            f"--time={max(1, round(duration_seconds))}",
            f"--file={script}",
            "--log",
            f"--log-prefix={log_prefix}",
            libpq_url,
            cwd=workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
        if process.returncode not in (0, 2):  # 2: some transactions failed, still a result
            raise PgbenchOutputError(
                f"pgbench exited with {process.returncode}: {stderr.decode(errors='replace')}"
            )
        tps, transactions, failed = parse_pgbench_summary(stdout.decode(errors="replace"))
        latencies = await asyncio.to_thread(_logged_latencies, Path(workdir))
    return PgbenchResult(
        transactions_per_second=tps,
        transactions=transactions,
        failed=failed,
        latency_p50_ms=percentile(latencies, 50),
        latency_p99_ms=percentile(latencies, 99),
    )
