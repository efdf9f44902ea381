"""A throwaway three-node KRaft cluster (each node broker and controller) that tests may
kill a node of, built from the same Kafka jars as :mod:`tests.support.kafka_broker`.

Replication as ``make up KAFKA_BROKERS=3`` sets it: internal topics with three replicas;
the test creates its topics with replication factor 3 and ``min.insync.replicas=2``.
Sessions are short so a killed node is fenced, and its partitions led elsewhere, within a
few seconds rather than the production default.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from tests.support.kafka_broker import (
    STARTUP_TIMEOUT_SECONDS,
    _cluster_id,
    _die_with_this_process,
    _free_port,
    _java,
    require_kafka_libs,
)

NODES = 3
HEAP = "-Xmx320m"


class ClusterNode:
    def __init__(self, node_id: int, workdir: Path) -> None:
        self.node_id = node_id
        self.workdir = workdir
        self.port = _free_port()
        self.controller_port = _free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def properties(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


class ThrowawayKafkaCluster:
    def __init__(self, libs: Path, workdir: Path) -> None:
        self._classpath = f"{libs}/*"
        self.nodes = [ClusterNode(n, workdir / f"node-{n}") for n in range(1, NODES + 1)]
        cluster_id = _cluster_id()
        for node in self.nodes:
            node.workdir.mkdir(parents=True)
            self._write_properties(node)
            self._format(node, cluster_id)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def _write_properties(self, node: ClusterNode) -> None:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        node.properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={node.node_id}",
                    f"controller.quorum.voters={voters}",
                    f"listeners=PLAINTEXT://127.0.0.1:{node.port},"
                    f"CONTROLLER://127.0.0.1:{node.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{node.address}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={node.workdir / 'data'}",
                    "num.partitions=6",
                    "offsets.topic.num.partitions=3",
                    "offsets.topic.replication.factor=3",
                    "transaction.state.log.replication.factor=3",
                    "transaction.state.log.min.isr=2",
                    "default.replication.factor=3",
                    "group.initial.rebalance.delay.ms=0",
                    # A killed node is fenced after 3 s, not 9: its partitions move sooner.
                    "broker.session.timeout.ms=3000",
                    "broker.heartbeat.interval.ms=500",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )

    def _format(self, node: ClusterNode, cluster_id: str) -> None:
        import subprocess

        subprocess.run(  # noqa: S603 - fixed argv, our own jars and files
            [
                _java(),
                "-cp",
                self._classpath,
                "kafka.tools.StorageTool",
                "format",
                # One argument each: an id starting with "-" must not read as a flag.
                f"--cluster-id={cluster_id}",
                f"--config={node.properties}",
            ],
            check=True,
            capture_output=True,
            timeout=STARTUP_TIMEOUT_SECONDS,
        )

    async def start(self) -> None:
        # All nodes first: none answers before a majority of the quorum runs.
        for node in self.nodes:
            await self._spawn(node)
        await asyncio.gather(*(self._wait_until_ready(node) for node in self.nodes))

    async def _spawn(self, node: ClusterNode) -> None:
        with (node.workdir / "broker.out").open("ab") as output:
            node.process = await asyncio.create_subprocess_exec(
                _java(),
                HEAP,
                "-XX:+UseSerialGC",
                "-cp",
                self._classpath,
                "-Dlog4j.configuration=file:/dev/null",
                "kafka.Kafka",
                str(node.properties),
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_die_with_this_process,
            )

    async def kill(self, node: ClusterNode) -> None:
        """SIGKILL: no controlled shutdown, no flush; the others must carry on."""
        process, node.process = node.process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()

    async def restart(self, node: ClusterNode) -> None:
        await self._spawn(node)
        await self._wait_until_ready(node)

    async def stop(self) -> None:
        for node in self.nodes:
            await self.kill(node)

    async def _wait_until_ready(self, node: ClusterNode) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT_SECONDS * 2
        while True:
            if not node.running:
                raise RuntimeError(f"Kafka node {node.node_id} exited; see {node.workdir}")
            if await self._answers(node):
                return
            if loop.time() > deadline:
                raise TimeoutError(f"Kafka node {node.node_id} not ready; see {node.workdir}")
            await asyncio.sleep(0.5)

    async def _answers(self, node: ClusterNode) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", node.port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        producer = AIOKafkaProducer(bootstrap_servers=node.address)
        try:
            await producer.start()
        except KafkaError:
            return False
        finally:
            await producer.stop()
        return True


@asynccontextmanager
async def throwaway_kafka_cluster() -> AsyncIterator[ThrowawayKafkaCluster]:
    """Three running nodes, killed and deleted when the block ends (skips the test when
    the Kafka jars are missing)."""
    libs = require_kafka_libs()
    workdir = Path(tempfile.mkdtemp(prefix="aftercare-kafka-cluster-"))
    try:
        cluster = await asyncio.to_thread(ThrowawayKafkaCluster, libs, workdir)
        try:
            await cluster.start()
            yield cluster
        finally:
            await cluster.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
