"""A throwaway single-node Kafka (KRaft) broker that tests may stop, kill and restart.

Built from the Kafka jars in ``AFTERCARE_KAFKA_LIBS`` (default ``.devstack/kafka/libs``
under the repository root, where ``make up``/``make test`` put them). The shared test
broker is never touched: this one has its own free ports and its own data folder, and
keeps both across restarts, as a real broker does.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0


def kafka_libs_dir() -> Path:
    return Path(os.environ.get("AFTERCARE_KAFKA_LIBS") or REPO_ROOT / ".devstack/kafka/libs")


def require_kafka_libs() -> Path:
    """The jars folder, or skip the test when there is none (so no broker can be built)."""
    libs = kafka_libs_dir()
    if not libs.is_dir():
        pytest.skip(
            f"no Kafka jars at {libs}: set AFTERCARE_KAFKA_LIBS (or run make up) "
            "to run tests that stop and restart a broker"
        )
    return libs


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    return str(Path(java_home) / "bin" / "java") if java_home else "java"


def _die_with_this_process() -> None:
    """Runs in the broker's child process: a test run killed mid-way takes its broker along."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _cluster_id() -> str:
    # What `kafka-storage random-uuid` prints: 16 random bytes, URL-safe base64, unpadded.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class ThrowawayKafkaBroker:
    """One broker process; :meth:`stop` and :meth:`start` again keep ports and data."""

    def __init__(self, libs: Path, workdir: Path) -> None:
        self._classpath = f"{libs}/*"
        self._workdir = workdir
        self.port = _free_port()
        self.controller_port = _free_port()
        self._properties = workdir / "server.properties"
        self._process: asyncio.subprocess.Process | None = None
        self._write_properties()
        self._format_storage()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _write_properties(self) -> None:
        self._properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self._workdir / 'data'}",
                    "num.partitions=6",
                    # A few offsets partitions: creating the default 50 slows every start.
                    "offsets.topic.num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # After a crash the restarted broker waits out its previous session
                    # before it is unfenced; a short session keeps restarts quick.
                    "broker.session.timeout.ms=2000",
                    "broker.heartbeat.interval.ms=500",
                    "auto.create.topics.enable=true",
                    "",
                ]
            )
        )

    def _format_storage(self) -> None:
        subprocess.run(  # noqa: S603 - fixed argv, our own jars and files
            [
                _java(),
                "-cp",
                self._classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                _cluster_id(),
                "-c",
                str(self._properties),
            ],
            check=True,
            capture_output=True,
            timeout=STARTUP_TIMEOUT_SECONDS,
        )

    async def start(self, *, within_seconds: float = STARTUP_TIMEOUT_SECONDS) -> None:
        """Start the broker and return once it accepts produce requests (a broker
        recovering its logs after a SIGKILL on a busy machine may need longer)."""
        if self.running:
            return
        with (self._workdir / "broker.out").open("ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                _java(),
                "-Xmx512m",
                "-cp",
                self._classpath,
                "-Dlog4j.configuration=file:/dev/null",
                "kafka.Kafka",
                str(self._properties),
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_die_with_this_process,
            )
        await self._wait_until_ready(within_seconds)

    async def stop(self, *, crash: bool = False) -> None:
        """SIGTERM (controlled shutdown) or, with ``crash``, SIGKILL; waits for the exit."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), SHUTDOWN_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def restart(self, *, crash: bool = False) -> None:
        await self.stop(crash=crash)
        await self.start()

    async def _wait_until_ready(self, within_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while True:
            if not self.running:
                raise RuntimeError(f"Kafka broker exited; see {self._workdir / 'broker.out'}")
            if await self._accepts_connections():
                return
            if loop.time() > deadline:
                raise TimeoutError(f"Kafka broker not ready after {within_seconds}s")
            await asyncio.sleep(0.25)

    async def _accepts_connections(self) -> bool:
        # A plain TCP probe first: aiokafka logs every refused connection as an error.
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers)
        try:
            await producer.start()
        except KafkaError:
            return False
        finally:
            await producer.stop()
        return True


@asynccontextmanager
async def throwaway_kafka_broker(*, started: bool = True) -> AsyncIterator[ThrowawayKafkaBroker]:
    """A broker (formatted, and running unless ``started=False``), killed and deleted
    (data and all) when the block ends.

    Skips the calling test when the Kafka jars are not available.
    """
    libs = require_kafka_libs()
    workdir = Path(tempfile.mkdtemp(prefix="aftercare-kafka-"))
    try:
        broker = await asyncio.to_thread(ThrowawayKafkaBroker, libs, workdir)
        try:
            if started:
                await broker.start()
            yield broker
        finally:
            await broker.stop(crash=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
