"""The system under test: fresh databases, intake (later notify, sla, releases), the peer app.

Infrastructure comes from outside — ``make bench`` exports ``AFTERCARE_DATABASE_URL``
(a base database next to which fresh ones are created), ``AFTERCARE_KAFKA_BOOTSTRAP_SERVERS``
and ``AFTERCARE_ADMIN_TOKEN``; without them the developer's dev servers are used, as the
tests do. Every run gets its own databases, consumer groups and clients, so a run never
sees another run's data.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from aftercare_shared.migrations import upgrade
from aftercare_shared.topics import ensure_topics
from bench.peer_app import (
    DATABASE_URL_SETTING,
    KIND_SETTING,
    PEER_TABLE,
    POOL_SIZE_SETTING,
    durable_tables_ddl,
    reports_table_ddl,
)
from bench.processes import TWO_WORKER_SETTINGS, UvicornProcess
from devkit.databases import (
    admin_token,
    create_database,
    create_migrated_database,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.kafka_groups import start_groups_at_the_end

DB_CEILING_TABLE = "pgbench_reports"
# The services' SQLAlchemy pool (AFTERCARE_DB_POOL_SIZE: up to twice as many, kept open); the
# peer's asyncpg pool is sized the same so neither side has more database connections.
DB_POOL_SIZE = 10
# Far above anything one process can serve: the per-key limit must not cap throughput.
UNLIMITED_REPORT_RATE = "1000000"


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+asyncpg://…`` → ``postgresql://…`` for asyncpg and pgbench."""
    return "postgresql://" + sqlalchemy_url.split("://", 1)[1]


@dataclass
class ClientKeys:
    client_id: str
    keys: list[str]


# Beside notify, the services that consume ``ticket.created`` in the end-to-end benchmark.
CONSUMERS_BESIDE_NOTIFY = ("sla", "releases")


@dataclass
class TwoWorkerServers:
    """Intake and both peers with ``--workers 2`` (benchmark 1's two-worker runs).

    Intake gets a database of its own: its two outbox relays then elect a leader between
    themselves, and the one-worker intake (still running for the later benchmarks) cannot
    do their relaying for them, where its CPU would not be counted.
    """

    intake: UvicornProcess
    peer: UvicornProcess
    peer_durable: UvicornProcess
    intake_database_url: str

    @property
    def processes(self) -> tuple[UvicornProcess, ...]:
        return (self.intake, self.peer, self.peer_durable)


@dataclass
class BenchStack:
    logs_dir: Path
    run_tag: str = field(default_factory=lambda: secrets.token_hex(4))
    service_database_url: str = ""
    peer_database_url: str = ""
    intake: UvicornProcess | None = None
    notify: UvicornProcess | None = None
    peer: UvicornProcess | None = None
    peer_durable: UvicornProcess | None = None
    """The same bare app doing intake's durable work in one statement (benchmark 1)."""
    consumers_beside_notify: dict[str, UvicornProcess] = field(default_factory=dict)
    """sla and releases, running for the end-to-end benchmark only."""
    keep_databases: bool = False
    """Leave every database of the run for inspection (``--keep-databases``)."""
    notify_unavailable: str | None = None
    """Why the end-to-end benchmark cannot run (notify missing or not migratable)."""
    consumers_unavailable: dict[str, str] = field(default_factory=dict)
    """Why sla or releases cannot join the end-to-end benchmark (not migratable)."""

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {admin_token()}"}

    def service_env(self, database_url: str | None = None) -> dict[str, str]:
        return {
            "AFTERCARE_DATABASE_URL": database_url or self.service_database_url,
            "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
            "AFTERCARE_ADMIN_TOKEN": admin_token(),
            "AFTERCARE_DB_POOL_SIZE": str(DB_POOL_SIZE),
            "INTAKE_REPORT_RATE_PER_SECOND": UNLIMITED_REPORT_RATE,
            "INTAKE_REPORT_RATE_BURST": UNLIMITED_REPORT_RATE,
            "AFTERCARE_CLIENT_RATE_PER_SECOND": UNLIMITED_REPORT_RATE,
            "AFTERCARE_CLIENT_RATE_BURST": UNLIMITED_REPORT_RATE,
            # Sentry envelopes have a per-project limit of their own (100/s by default):
            # left on, benchmarks 6 and 7 measured the limiter on a machine fast enough.
            "INTAKE_PROJECT_RATE_PER_SECOND": UNLIMITED_REPORT_RATE,
            "INTAKE_PROJECT_RATE_BURST": UNLIMITED_REPORT_RATE,
            "INTAKE_CONSUMER_GROUP": self.consumer_group("intake"),
            "NOTIFY_CONSUMER_GROUP": self.consumer_group("notify"),
            "SLA_CONSUMER_GROUP": self.consumer_group("sla"),
            "RELEASES_CONSUMER_GROUP": self.consumer_group("releases"),
            "NOTIFY_SSRF_ALLOWLIST": "127.0.0.0/8",
        }

    def consumer_group(self, service: str) -> str:
        return f"aftercare-{service}-bench-{self.run_tag}"

    async def start(self) -> None:
        """Databases, topics, then intake and the peer (notify waits for its benchmark)."""
        self.service_database_url = await create_migrated_database("intake", prefix="bench")
        try:
            await asyncio.to_thread(upgrade, "notify", self.service_database_url)
        except Exception as error:  # any failure only rules out the end-to-end benchmark
            self.notify_unavailable = f"notify could not be migrated: {error}"
        for service in CONSUMERS_BESIDE_NOTIFY:
            try:
                await asyncio.to_thread(upgrade, service, self.service_database_url)
            except Exception as error:  # the end-to-end benchmark then runs without it
                self.consumers_unavailable[service] = f"{service} could not be migrated: {error}"
        self.peer_database_url = await create_database("benchpeer")
        connection = await asyncpg.connect(libpq_url(self.peer_database_url))
        try:
            for table in (PEER_TABLE, DB_CEILING_TABLE):
                for statement in reports_table_ddl(table):
                    await connection.execute(statement)
            for statement in durable_tables_ddl():
                await connection.execute(statement)
        finally:
            await connection.close()
        await ensure_topics(kafka_bootstrap_servers(), partitions=6, replication_factor=1)

        self.intake = UvicornProcess(
            "intake", "aftercare_intake.app:create_app", self.logs_dir / "intake.log"
        )
        self.peer = UvicornProcess(
            "peer", "bench.peer_app:create_app", self.logs_dir / "peer.log", ready_path="/ping"
        )
        self.peer_durable = UvicornProcess(
            "peer-durable",
            "bench.peer_app:create_app",
            self.logs_dir / "peer-durable.log",
            ready_path="/ping",
        )
        self.intake.start(self.service_env())
        for peer, kind in ((self.peer, "insert"), (self.peer_durable, "durable")):
            peer.start(self.peer_env(kind))
        await asyncio.gather(
            self.intake.wait_ready(), self.peer.wait_ready(), self.peer_durable.wait_ready()
        )

    async def start_notify(self) -> UvicornProcess:
        """Start notify reading only events from now on.

        Its consumer group starts at the earliest offset, and the throughput benchmarks
        have just filled ``aftercare.tickets``: the group is moved to the end of every
        topic first, so the end-to-end figures measure only their own reports.
        """
        await self.skip_consumer_group_to_end(self.consumer_group("notify"))
        self.notify = UvicornProcess(
            "notify", "aftercare_notify.app:create_app", self.logs_dir / "notify.log"
        )
        self.notify.start(self.service_env())
        await self.notify.wait_ready()
        return self.notify

    async def start_consumers_beside_notify(self) -> dict[str, UvicornProcess]:
        """Start sla and releases (those that migrated) reading only events from now on."""
        services = [s for s in CONSUMERS_BESIDE_NOTIFY if s not in self.consumers_unavailable]
        await start_groups_at_the_end(*(self.consumer_group(service) for service in services))
        for service in services:
            process = UvicornProcess(
                service, f"aftercare_{service}.app:create_app", self.logs_dir / f"{service}.log"
            )
            process.start(self.service_env())
            self.consumers_beside_notify[service] = process
        await asyncio.gather(*(p.wait_ready() for p in self.consumers_beside_notify.values()))
        return self.consumers_beside_notify

    async def stop_consumers_beside_notify(self) -> None:
        """After the end-to-end benchmark: the fan-out benchmark measures notify alone."""
        for process in self.consumers_beside_notify.values():
            await asyncio.to_thread(process.stop)
        self.consumers_beside_notify.clear()

    async def start_two_worker_servers(self) -> TwoWorkerServers:
        """Intake (own database, own consumer group) and both peers with two workers each."""
        database_url = await create_migrated_database("intake", prefix="bench")
        group = self.consumer_group("intake-two-workers")
        await start_groups_at_the_end(group)
        servers = TwoWorkerServers(
            intake=UvicornProcess(
                "intake-2w",
                "aftercare_intake.app:create_app",
                self.logs_dir / "intake-2w.log",
                uvicorn_args=TWO_WORKER_SETTINGS,
            ),
            peer=UvicornProcess(
                "peer-2w",
                "bench.peer_app:create_app",
                self.logs_dir / "peer-2w.log",
                ready_path="/ping",
                uvicorn_args=TWO_WORKER_SETTINGS,
            ),
            peer_durable=UvicornProcess(
                "peer-durable-2w",
                "bench.peer_app:create_app",
                self.logs_dir / "peer-durable-2w.log",
                ready_path="/ping",
                uvicorn_args=TWO_WORKER_SETTINGS,
            ),
            intake_database_url=database_url,
        )
        servers.intake.start({**self.service_env(database_url), "INTAKE_CONSUMER_GROUP": group})
        for peer, kind in ((servers.peer, "insert"), (servers.peer_durable, "durable")):
            peer.start(self.peer_env(kind))
        try:
            await asyncio.gather(*(process.wait_ready() for process in servers.processes))
        except BaseException:
            await self.stop_two_worker_servers(servers)
            raise
        return servers

    async def stop_two_worker_servers(self, servers: TwoWorkerServers) -> None:
        for process in servers.processes:
            await asyncio.to_thread(process.stop)
        if not self.keep_databases:
            await drop_database(servers.intake_database_url)

    def peer_env(self, kind: str) -> dict[str, str]:
        return {
            DATABASE_URL_SETTING: libpq_url(self.peer_database_url),
            POOL_SIZE_SETTING: str(DB_POOL_SIZE),
            KIND_SETTING: kind,
        }

    async def skip_consumer_group_to_end(self, group_id: str) -> None:
        await start_groups_at_the_end(group_id)

    async def provision_clients(
        self, count: int, keys_per_client: int, *, intake: UvicornProcess | None = None
    ) -> list[ClientKeys]:
        """Clients with API keys, made through intake's staff API as an operator would."""
        intake = intake or self.intake
        assert intake is not None
        clients: list[ClientKeys] = []
        async with httpx.AsyncClient(base_url=intake.url, timeout=10.0) as http:
            for index in range(count):
                created = await http.post(
                    "/v1/clients",
                    json={"name": f"bench client {self.run_tag}-{index}"},
                    headers=self.admin_headers,
                )
                created.raise_for_status()
                client_id = created.json()["id"]
                keys = []
                for _ in range(keys_per_client):
                    issued = await http.post(
                        f"/v1/clients/{client_id}/api-keys", headers=self.admin_headers
                    )
                    issued.raise_for_status()
                    keys.append(issued.json()["key"])
                clients.append(ClientKeys(client_id, keys))
        return clients

    async def analyze(self, *other_database_urls: str) -> None:
        """Give the planner the statistics autovacuum would have given a running system.

        Called after a warm-up. A just-created database has none, and a statement a pool
        prepared while its table was nearly empty can keep the plan made for that, which
        nothing replans until the table is analyzed. Autovacuum
        analyzes a table once 10 % of it changed, at most a minute (its naptime) later,
        so every system past its first minute has the statistics; a 15-30 s measured run
        right after the warm-up would otherwise time that first minute instead, with the
        outbox relay's ``UPDATE ... WHERE id = ANY`` reading the whole, growing outbox
        (521 buffers a call on average in a 200/s end-to-end run for about four rows;
        46 after ``ANALYZE``).
        ``ANALYZE`` invalidates the cached plans in every connection.
        """
        for url in (self.service_database_url, self.peer_database_url, *other_database_urls):
            if not url:
                continue
            connection = await asyncpg.connect(libpq_url(url))
            try:
                await connection.execute("ANALYZE")
            finally:
                await connection.close()

    async def stop(self, *, keep_databases: bool = False) -> None:
        await self.stop_consumers_beside_notify()
        for process in (self.notify, self.intake, self.peer, self.peer_durable):
            if process is not None:
                await asyncio.to_thread(process.stop)
        if keep_databases:
            return
        for url in (self.service_database_url, self.peer_database_url):
            if url:
                await drop_database(url)
