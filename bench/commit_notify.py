"""Benchmark 1's commit ceiling with and without the NOTIFY a commit sends (issue 13).

A transaction that sends ``NOTIFY`` takes the lock of Postgres's one, server-wide
notification queue at commit and holds it through its WAL flush, so notifying commits
are serialised. The outbox used to send one
on every commit that enqueued an event; now only a process whose relay does not lead does
(:mod:`aftercare_shared.outbox.wake`). pgbench runs intake's durable write — the ticket
row (:data:`bench.pgbench_runner.ONE_ROW_INSERT`) and its outbox row (the real table,
with its indexes) in one transaction — once plain and once with the ``pg_notify`` the
outbox added, while a connection LISTENs on the channel as the relay does. The runs go
A B B A; each figure is the mean of its two runs, so drift on a shared machine does not
favour either side.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from statistics import mean
from typing import Any

import asyncpg
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from aftercare_shared.outbox.tables import outbox_table
from bench.options import BenchOptions
from bench.peer_app import reports_table_ddl
from bench.pgbench_runner import ONE_ROW_INSERT, PgbenchResult, run_pgbench
from bench.report import TableRow, number, ratio_text
from bench.stack import libpq_url
from devkit.databases import create_database, drop_database

BENCHMARK = "1 ceilings"
TICKETS = "pgbench_reports"
CHANNEL = "bench_outbox"

# The outbox row intake writes with a ticket: an event of about 1 KB, keyed by the ticket.
OUTBOX_INSERT = """\
INSERT INTO outbox (event_id, topic, record_key, payload, headers) VALUES (
    gen_random_uuid()::text, 'aftercare.tickets', gen_random_uuid()::text,
    convert_to(repeat('x', 1000), 'UTF8'), '{"content-type": "application/cloudevents+json"}'
);
"""
WITHOUT_NOTIFY = "BEGIN;\n" + ONE_ROW_INSERT.format(table=TICKETS) + OUTBOX_INSERT + "COMMIT;\n"
WITH_NOTIFY = (
    "BEGIN;\n"
    + ONE_ROW_INSERT.format(table=TICKETS)
    + OUTBOX_INSERT
    + f"SELECT pg_notify('{CHANNEL}', '');\n"
    + "COMMIT;\n"
)


@dataclass(frozen=True, slots=True)
class CommitNotifyResults:
    without_notify: list[PgbenchResult]
    with_notify: list[PgbenchResult]
    notifications_heard: int

    @staticmethod
    def _mean(results: list[PgbenchResult], field: str) -> float | None:
        values = [getattr(result, field) for result in results]
        present = [value for value in values if value is not None]
        return mean(present) if present else None

    def figures(self, results: list[PgbenchResult]) -> dict[str, Any]:
        return {
            "transactions_per_second": self._mean(results, "transactions_per_second"),
            "latency_p50_ms": self._mean(results, "latency_p50_ms"),
            "latency_p99_ms": self._mean(results, "latency_p99_ms"),
            "failed": sum(result.failed for result in results),
            "runs_tps": [result.transactions_per_second for result in results],
        }

    @property
    def notify_vs_plain(self) -> float | None:
        plain = self._mean(self.without_notify, "transactions_per_second")
        notifying = self._mean(self.with_notify, "transactions_per_second")
        return None if not plain or notifying is None else notifying / plain

    def as_json(self) -> dict[str, Any]:
        ratio = self.notify_vs_plain
        return {
            "without_notify": self.figures(self.without_notify),
            "with_notify": self.figures(self.with_notify),
            "notifications_heard": self.notifications_heard,
            "notify_vs_plain": None if ratio is None else round(ratio, 3),
        }


async def _create_tables(connection: Any) -> None:
    for statement in reports_table_ddl(TICKETS):
        await connection.execute(statement)
    outbox = outbox_table(MetaData())
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    await connection.execute(str(CreateTable(outbox).compile(dialect=dialect)))
    for index in outbox.indexes:
        await connection.execute(str(CreateIndex(index).compile(dialect=dialect)))


async def measure_commit_notify(*, pgbench: str, options: BenchOptions) -> CommitNotifyResults:
    url = await create_database("bench")
    heard = 0

    def on_notify(*_: object) -> None:
        nonlocal heard
        heard += 1

    try:
        connection = await asyncpg.connect(libpq_url(url))
        try:
            await _create_tables(connection)
            await connection.add_listener(CHANNEL, on_notify)  # as the relay listens
            runs: dict[str, list[PgbenchResult]] = {"plain": [], "notify": []}
            for name in ("plain", "notify", "notify", "plain"):
                runs[name].append(
                    await run_pgbench(
                        pgbench,
                        libpq_url=libpq_url(url),
                        table=TICKETS,
                        connections=options.connections,
                        threads=options.threads,
                        duration_seconds=options.duration_seconds,
                        transaction=WITH_NOTIFY if name == "notify" else WITHOUT_NOTIFY,
                    )
                )
            await asyncio.sleep(0.5)  # the last notifications on their way to the listener
        finally:
            await connection.close()
    finally:
        await drop_database(url)
    return CommitNotifyResults(runs["plain"], runs["notify"], heard)


def commit_notify_rows(results: CommitNotifyResults) -> list[TableRow]:
    plain = results.figures(results.without_notify)
    notifying = results.figures(results.with_notify)

    def described(figures: dict[str, Any]) -> str:
        return (
            f"{number(figures['transactions_per_second'])} · "
            f"{number(figures['latency_p50_ms'], 1)} / {number(figures['latency_p99_ms'], 1)}"
        )

    return [
        TableRow(
            BENCHMARK,
            "transactions/s · p50 / p99 ms (ticket + outbox row, A B B A means)",
            "",
            "DB: pgbench ticket + outbox row",
            described(plain),
        ),
        TableRow(
            BENCHMARK,
            "transactions/s · p50 / p99 ms (… + the NOTIFY a commit used to send)",
            described(notifying),
            "DB: pgbench ticket + outbox row",
            number(plain["transactions_per_second"]),
            ratio_text(results.notify_vs_plain),
        ),
    ]
