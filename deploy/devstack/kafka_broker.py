"""The stack's own Kafka: one KRaft node acting as broker and controller, run from the
cached jars with `java kafka.Kafka`, no Kafka distribution needed."""

import base64
import os
import time
import uuid
from pathlib import Path

from . import ports
from .commands import run
from .console import DevstackError, step, tail
from .java import require_java
from .kafka_jars import ensure_jars, kafka_version
from .kafka_probe import broker_answers
from .paths import KAFKA_LOG4J_CONFIG
from .processes import ProcessRecord, record_file, running_record, start_detached, stop
from .profiles import Profile

HEAP_SETTING = "AFTERCARE_KAFKA_HEAP"
_DEFAULT_HEAP = "512m"
_START_TIMEOUT_SECONDS = 120
# A controlled shutdown moves leadership and flushes logs; give it time before SIGKILL.
_STOP_GRACE_SECONDS = 30
_NODE_ID = 1


def _properties_file(profile: Profile) -> Path:
    return profile.kafka_dir / "server.properties"


def _data_dir(profile: Profile) -> Path:
    return profile.kafka_dir / "data"


def _record_file(profile: Profile) -> Path:
    return record_file(profile.run_dir, "kafka")


def _broker_log(profile: Profile) -> Path:
    # Written by log4j (deploy/kafka/log4j.properties); the JVM's own stdout/stderr, which
    # only carries start-up failures, goes to kafka-console.log.
    return profile.logs_dir / "kafka.log"


def _console_log(profile: Profile) -> Path:
    return profile.logs_dir / "kafka-console.log"


def running(profile: Profile) -> ProcessRecord | None:
    return running_record(_record_file(profile))


def ensure_running(profile: Profile) -> None:
    existing = running(profile)
    if existing is not None:
        if existing.port != profile.kafka_port:
            raise DevstackError(
                f"this stack's Kafka already runs on port {existing.port}, but "
                f"{profile.setting_name('KAFKA_PORT')} asks for {profile.kafka_port}: "
                f"stop it first (`make down`)"
            )
        step(f"Kafka already running on 127.0.0.1:{existing.port}")
        _wait_until_ready(profile, existing)
        return
    ports.require_free(profile.kafka_port, "Kafka", profile.setting_name("KAFKA_PORT"))
    ports.require_free(
        profile.kafka_controller_port,
        "Kafka controller",
        profile.setting_name("KAFKA_CONTROLLER_PORT"),
    )
    java = require_java()
    classpath = f"{ensure_jars()}/*"
    _write_properties(profile)
    if not (_data_dir(profile) / "meta.properties").exists():
        _format_storage(profile, java, classpath)
    step(f"starting Kafka {kafka_version()} on 127.0.0.1:{profile.kafka_port}…")
    heap = os.environ.get(HEAP_SETTING, "").strip() or _DEFAULT_HEAP
    properties = str(_properties_file(profile))
    record = start_detached(
        [
            java,
            f"-Xmx{heap}",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={profile.logs_dir}",
            f"-Dlog4j.configuration=file:{KAFKA_LOG4J_CONFIG}",
            "-cp",
            classpath,
            "kafka.Kafka",
            properties,
        ],
        log_file=_console_log(profile),
        env=os.environ,
        record_path=_record_file(profile),
        port=profile.kafka_port,
        command_marker=properties,
    )
    _wait_until_ready(profile, record)


def _write_properties(profile: Profile) -> None:
    host = ports.LOOPBACK
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(_NODE_ID),
        "controller.quorum.voters": f"{_NODE_ID}@{host}:{profile.kafka_controller_port}",
        "listeners": (
            f"PLAINTEXT://{host}:{profile.kafka_port},"
            f"CONTROLLER://{host}:{profile.kafka_controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{host}:{profile.kafka_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(_data_dir(profile)),
        # A single broker: every internal topic can have one replica only.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "default.replication.factor": "1",
        # Matches the topics module's default, should a topic be auto-created.
        "num.partitions": "6",
        # Fewer offset partitions: the first consumer group joins faster on a small box.
        "offsets.topic.num.partitions": "10",
        # Tests start consumers and expect them assigned at once, not after 3 s.
        "group.initial.rebalance.delay.ms": "0",
    }
    _properties_file(profile).parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={value}\n" for key, value in settings.items())
    _properties_file(profile).write_text(body)


def _new_cluster_id() -> str:
    # Kafka's own format: 16 random bytes, URL-safe base64 without padding, not
    # starting with "-" (it would read as a command-line flag).
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _format_storage(profile: Profile, java: str, classpath: str) -> None:
    step("formatting Kafka storage (first run only)…")
    run(
        [
            java,
            f"-Dlog4j.configuration=file:{KAFKA_LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={profile.logs_dir}",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={_new_cluster_id()}",
            f"--config={_properties_file(profile)}",
        ],
        what="formatting Kafka storage",
    )


def _wait_until_ready(profile: Profile, record: ProcessRecord) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if broker_answers(ports.LOOPBACK, profile.kafka_port):
            return
        if running(profile) is None:
            raise DevstackError(f"Kafka exited during start-up.\n{_recent_logs(profile)}")
        time.sleep(0.5)
    raise DevstackError(
        f"Kafka (pid {record.pid}) did not answer on 127.0.0.1:{profile.kafka_port} within "
        f"{_START_TIMEOUT_SECONDS}s.\n{_recent_logs(profile)}"
    )


def _recent_logs(profile: Profile) -> str:
    shown = []
    for log in (_console_log(profile), _broker_log(profile)):
        if log.is_file():
            shown.append(f"--- last lines of {log} ---\n{tail(log.read_text(errors='replace'))}")
    return "\n".join(shown)


def stop_broker(profile: Profile) -> None:
    stop(_record_file(profile), "Kafka", _STOP_GRACE_SECONDS)
