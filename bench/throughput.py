"""Benchmark 1 — durable intake throughput next to the peer, HTTP and database ceilings.

After the one-worker runs (unless ``--no-two-workers``), intake and both peers run again
with ``--workers 2`` under the same wrk settings: how each scales with a second worker,
and intake's ratio to the peer when both have two.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench.intake_database import CommittedReports, committed_reports, unpublished_outbox_rows
from bench.load_runs import LoadRun, load_server, warm_up
from bench.options import BenchOptions
from bench.peer_app import DURABLE_KEYS_TABLE, hash_key
from bench.pgbench_runner import PgbenchResult, run_pgbench
from bench.postgres_cpu import parent_pid
from bench.stack import DB_CEILING_TABLE, BenchStack, TwoWorkerServers, libpq_url
from bench.stats import ratio

UNIQUE_REPORTS_SCRIPT = "unique_reports.lua"
OUTBOX_DRAIN_DEADLINE_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class OutboxDrain:
    """The relay catching up after the load: how far behind it was and how fast it caught up."""

    backlog_rows: int
    drain_seconds: float | None
    """None when the backlog did not drain before the deadline."""

    def as_json(self) -> dict[str, Any]:
        rate = (
            self.backlog_rows / self.drain_seconds
            if self.drain_seconds and self.backlog_rows
            else None
        )
        return {
            "backlog_rows_at_end_of_load": self.backlog_rows,
            "drain_seconds": None if self.drain_seconds is None else round(self.drain_seconds, 2),
            "drain_rows_per_second": None if rate is None else round(rate, 1),
        }


def every_acknowledged_report_durable(acknowledged: int, committed: CommittedReports) -> bool:
    """Every acknowledged report is a ticket with its outbox row.

    More tickets than acknowledgements is fine: wrk stops waiting when its time is up,
    and intake still commits (and answers) what was in flight.
    """
    return committed.tickets >= acknowledged and committed.with_outbox_row == committed.tickets


class _AgainstThePeers:
    """What the one- and two-worker results share: intake's reports/s over each peer's
    (runs with the same worker count) and the durability check of intake's run."""

    __slots__ = ()
    intake: LoadRun
    peer: LoadRun
    peer_durable: LoadRun
    committed: CommittedReports

    @property
    def durable(self) -> bool:
        """Every acknowledged report is a ticket with its outbox row."""
        return every_acknowledged_report_durable(self.intake.wrk.acknowledged, self.committed)

    def durability_json(self) -> dict[str, Any]:
        """The acknowledged reports against what the database holds for the run."""
        return {
            "acknowledged": self.intake.wrk.acknowledged,
            "tickets_committed": self.committed.tickets,
            "tickets_with_outbox_row": self.committed.with_outbox_row,
            "every_acknowledged_report_durable": self.durable,
        }

    @property
    def intake_vs_peer(self) -> float | None:
        return ratio(self.intake.wrk.acknowledged_per_second, self.peer.wrk.acknowledged_per_second)

    @property
    def intake_vs_peer_durable(self) -> float | None:
        return ratio(
            self.intake.wrk.acknowledged_per_second,
            self.peer_durable.wrk.acknowledged_per_second,
        )


@dataclass(frozen=True, slots=True)
class TwoWorkerResults(_AgainstThePeers):
    """Intake and the peers with ``--workers 2``, same wrk settings as the one-worker runs."""

    intake: LoadRun
    peer: LoadRun
    peer_durable: LoadRun
    committed: CommittedReports
    """What the two-worker intake's own database holds for its measured run."""

    def as_json(self) -> dict[str, Any]:
        return {
            "intake": self.intake.as_json(),
            "peer": self.peer.as_json(),
            "peer_durable": self.peer_durable.as_json(),
            "durability": self.durability_json(),
            "ratios": {
                "intake_vs_peer": _rounded(self.intake_vs_peer),
                "intake_vs_peer_durable": _rounded(self.intake_vs_peer_durable),
            },
        }


@dataclass(frozen=True, slots=True)
class ThroughputResults(_AgainstThePeers):
    intake: LoadRun
    peer: LoadRun
    peer_durable: LoadRun
    """The same bare app doing the same durable work hand-written in one statement."""
    http_ceiling: LoadRun
    db_ceiling: PgbenchResult
    outbox: OutboxDrain
    committed: CommittedReports
    """What intake's database holds for the measured run, checked after it."""
    two_workers: TwoWorkerResults | None = None
    """The same loads with ``--workers 2``; None with ``--no-two-workers``."""

    def scaling(self, one: LoadRun, two: LoadRun) -> float | None:
        """Two workers' reports/s over one worker's: 2.0 would be perfect scaling."""
        return ratio(two.wrk.acknowledged_per_second, one.wrk.acknowledged_per_second)

    @property
    def intake_vs_db_ceiling(self) -> float | None:
        return ratio(
            self.intake.wrk.acknowledged_per_second, self.db_ceiling.transactions_per_second
        )

    def as_json(self) -> dict[str, Any]:
        db = self.db_ceiling
        return {
            "intake": self.intake.as_json(),
            "peer": self.peer.as_json(),
            "peer_durable": self.peer_durable.as_json(),
            "http_ceiling": self.http_ceiling.as_json(),
            "db_ceiling": {
                "target": "pgbench, one-row INSERT per transaction",
                "transactions_per_second": round(db.transactions_per_second, 1),
                "transactions": db.transactions,
                "failed": db.failed,
                "latency_ms": {
                    "p50": None if db.latency_p50_ms is None else round(db.latency_p50_ms, 2),
                    "p99": None if db.latency_p99_ms is None else round(db.latency_p99_ms, 2),
                },
            },
            "outbox": self.outbox.as_json(),
            "durability": self.durability_json(),
            "ratios": {
                "intake_vs_peer": _rounded(self.intake_vs_peer),
                "intake_vs_peer_durable": _rounded(self.intake_vs_peer_durable),
                "intake_vs_db_ceiling": _rounded(self.intake_vs_db_ceiling),
                "peer_vs_http_ceiling": _rounded(
                    ratio(
                        self.peer.wrk.acknowledged_per_second,
                        self.http_ceiling.wrk.acknowledged_per_second,
                    )
                ),
            },
            "two_workers": None if self.two_workers is None else self._two_workers_json(),
        }

    def _two_workers_json(self) -> dict[str, Any]:
        two = self.two_workers
        assert two is not None
        return {
            **two.as_json(),
            "two_vs_one_worker": {
                "intake": _rounded(self.scaling(self.intake, two.intake)),
                "peer": _rounded(self.scaling(self.peer, two.peer)),
                "peer_durable": _rounded(self.scaling(self.peer_durable, two.peer_durable)),
            },
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def measure_throughput(
    stack: BenchStack, *, wrk: str, pgbench: str, api_keys: list[str], options: BenchOptions
) -> ThroughputResults:
    assert stack.intake is not None
    assert stack.peer is not None
    assert stack.peer_durable is not None
    peer_args = [f"peer-{stack.run_tag}", "unused-by-the-peer"]
    intake_tag = f"intake-{stack.run_tag}"
    postmaster = await _postmaster_pid(stack.service_database_url)

    print("bench: HTTP ceiling (peer GET /ping)…")
    await warm_up(wrk, stack.peer, script="ping.lua", script_args=[], options=options)
    http_ceiling = await load_server(
        wrk, stack.peer, target="peer GET /ping", script="ping.lua", script_args=[], options=options
    )

    print("bench: database ceiling (pgbench one-row INSERT)…")
    db_ceiling = await run_pgbench(
        pgbench,
        libpq_url=libpq_url(stack.peer_database_url),
        table=DB_CEILING_TABLE,
        connections=options.connections,
        threads=options.threads,
        duration_seconds=options.duration_seconds,
    )

    print("bench: peer baseline (FastAPI + one asyncpg INSERT)…")
    await warm_up(
        wrk,
        stack.peer,
        script=UNIQUE_REPORTS_SCRIPT,
        script_args=[f"{peer_args[0]}-warm", *peer_args[1:]],
        options=options,
        analyze=stack.analyze,
    )
    peer = await load_server(
        wrk,
        stack.peer,
        target="peer POST /v1/reports",
        script=UNIQUE_REPORTS_SCRIPT,
        script_args=peer_args,
        options=options,
        postmaster_pid=postmaster,
        counters_url=libpq_url(stack.service_database_url),
    )

    print("bench: durable peer (FastAPI + one asyncpg statement: key, dedup, outbox)…")
    peer_durable = await _load_durable_peer(
        stack, wrk=wrk, api_keys=api_keys, options=options, postmaster_pid=postmaster
    )

    print("bench: durable intake throughput (POST /v1/reports, unique reports)…")
    await warm_up(
        wrk,
        stack.intake,
        script=UNIQUE_REPORTS_SCRIPT,
        script_args=[f"{intake_tag}-warm", *api_keys],
        options=options,
        analyze=stack.analyze,
    )
    await wait_for_outbox_drain(stack)  # the warm-up's backlog must not count against the run
    intake = await load_server(
        wrk,
        stack.intake,
        target="intake POST /v1/reports",
        script=UNIQUE_REPORTS_SCRIPT,
        script_args=[f"{intake_tag}-run", *api_keys],
        options=options,
        postmaster_pid=postmaster,
        counters_url=libpq_url(stack.service_database_url),
    )
    outbox = await wait_for_outbox_drain(stack)
    committed = await _committed(stack.service_database_url, intake_tag)
    two_workers = None
    if options.two_workers:
        two_workers = await _measure_two_workers(
            stack, wrk=wrk, peer_api_keys=api_keys, options=options, postmaster_pid=postmaster
        )
    return ThroughputResults(
        intake, peer, peer_durable, http_ceiling, db_ceiling, outbox, committed, two_workers
    )


async def _committed(database_url: str, intake_tag: str) -> CommittedReports:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        # unique_reports.lua sends fingerprint "bench-<tag>-<thread>-<n>".
        return await committed_reports(connection, f"bench-{intake_tag}-run-")
    finally:
        await connection.close()


async def _measure_two_workers(
    stack: BenchStack,
    *,
    wrk: str,
    peer_api_keys: list[str],
    options: BenchOptions,
    postmaster_pid: int,
) -> TwoWorkerResults:
    """Intake and both peers again, each with two uvicorn workers; then they are stopped."""
    print("bench: starting intake and both peers with --workers 2…")
    servers = await stack.start_two_worker_servers()
    try:
        return await _load_two_workers(
            stack,
            servers,
            wrk=wrk,
            peer_api_keys=peer_api_keys,
            options=options,
            postmaster_pid=postmaster_pid,
        )
    finally:
        await stack.stop_two_worker_servers(servers)


async def _load_two_workers(
    stack: BenchStack,
    servers: TwoWorkerServers,
    *,
    wrk: str,
    peer_api_keys: list[str],
    options: BenchOptions,
    postmaster_pid: int,
) -> TwoWorkerResults:
    # Intake's keys live in its own database: as many tenants as the one-worker run had.
    intake_keys = [
        key
        for client in await stack.provision_clients(
            len(peer_api_keys), keys_per_client=1, intake=servers.intake
        )
        for key in client.keys
    ]
    runs: dict[str, LoadRun] = {}
    for label, server, keys in (
        ("peer", servers.peer, ["unused-by-the-peer"]),
        ("durable peer", servers.peer_durable, peer_api_keys),  # its keys table has them
        ("intake", servers.intake, intake_keys),
    ):
        print(f"bench: {label} with two workers (POST /v1/reports, unique reports)…")
        tag = f"{label.replace(' ', '-')}-2w-{stack.run_tag}"
        await warm_up(
            wrk,
            server,
            script=UNIQUE_REPORTS_SCRIPT,
            script_args=[f"{tag}-warm", *keys],
            options=options,
            analyze=functools.partial(stack.analyze, servers.intake_database_url),
        )
        if server is servers.intake:
            await wait_for_outbox_drain(stack, servers.intake_database_url)
        runs[label] = await load_server(
            wrk,
            server,
            target=f"{label} POST /v1/reports, --workers 2",
            script=UNIQUE_REPORTS_SCRIPT,
            script_args=[f"{tag}-run", *keys],
            options=options,
            postmaster_pid=postmaster_pid,
            counters_url=libpq_url(stack.service_database_url),
        )
    await wait_for_outbox_drain(stack, servers.intake_database_url)
    committed = await _committed(servers.intake_database_url, f"intake-2w-{stack.run_tag}")
    return TwoWorkerResults(runs["intake"], runs["peer"], runs["durable peer"], committed)


async def _postmaster_pid(database_url: str) -> int:
    """The bench cluster's postmaster: the parent of any of its backends (all three servers'
    databases live in that one cluster)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        backend: int = await connection.fetchval("SELECT pg_backend_pid()")
        # Read while the connection is open: its backend exits as soon as it closes.
        return parent_pid(backend)
    finally:
        await connection.close()


async def _load_durable_peer(
    stack: BenchStack,
    *,
    wrk: str,
    api_keys: list[str],
    options: BenchOptions,
    postmaster_pid: int,
) -> LoadRun:
    """The durable peer, sent the same reports with intake's keys (which it is given)."""
    assert stack.peer_durable is not None
    connection = await asyncpg.connect(libpq_url(stack.peer_database_url))
    try:
        await connection.executemany(
            f"INSERT INTO {DURABLE_KEYS_TABLE} (key_hash, client_id) VALUES ($1, $2)"  # noqa: S608
            " ON CONFLICT DO NOTHING",
            [(hash_key(key), f"peer-client-{index}") for index, key in enumerate(api_keys)],
        )
    finally:
        await connection.close()
    tag = f"peer-durable-{stack.run_tag}"
    await warm_up(
        wrk,
        stack.peer_durable,
        script=UNIQUE_REPORTS_SCRIPT,
        script_args=[f"{tag}-warm", *api_keys],
        options=options,
        analyze=stack.analyze,
    )
    return await load_server(
        wrk,
        stack.peer_durable,
        target="durable peer POST /v1/reports",
        script=UNIQUE_REPORTS_SCRIPT,
        script_args=[f"{tag}-run", *api_keys],
        options=options,
        postmaster_pid=postmaster_pid,
        counters_url=libpq_url(stack.service_database_url),
    )


async def wait_for_outbox_drain(stack: BenchStack, database_url: str | None = None) -> OutboxDrain:
    """Wait until intake's relay has published every outbox row; time how long it took."""
    connection = await asyncpg.connect(libpq_url(database_url or stack.service_database_url))
    try:
        started = time.monotonic()
        backlog = await unpublished_outbox_rows(connection)
        remaining = backlog
        while remaining > 0:
            if time.monotonic() - started > OUTBOX_DRAIN_DEADLINE_SECONDS:
                return OutboxDrain(backlog, None)
            await asyncio.sleep(0.1)
            remaining = await unpublished_outbox_rows(connection)
        return OutboxDrain(backlog, time.monotonic() - started)
    finally:
        await connection.close()
