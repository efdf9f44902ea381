"""The stack's own Kafka: KRaft nodes acting as broker and controller each, run from the
cached jars with `java kafka.Kafka`, no Kafka distribution needed.

One node by default; `make up KAFKA_BROKERS=3` runs a three-node cluster (three voters in
the controller quorum, replication factor 3 for the internal topics, and the topics that
`python -m aftercare_shared.topics` creates get three replicas with min.insync.replicas=2).
A single node keeps its files where it always had them (`.devstack/kafka/`); a cluster of
n nodes keeps each node's under `.devstack/kafka/brokers-<n>/node-<id>/`, so switching shape
never reuses storage formatted for another quorum.
"""

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
from .processes import ProcessRecord, record_file, running_record, start_detached, stop_together
from .profiles import KafkaNode, Profile

HEAP_SETTING = "AFTERCARE_KAFKA_HEAP"
_DEFAULT_HEAP = "512m"
JIT_SETTING = "AFTERCARE_KAFKA_JIT"
# The client JIT (C1) only, by default: this broker starts fresh for every stack on a small
# machine, and C2's compiles of its first minutes took a sixth of a core from the services
# during the end-to-end bench (0.17 cores), while C1's code served the same requests at the
# same CPU (0.17 against 0.16 cores of request handling). `full` gives the JVM's default.
_JIT_OPTIONS = {"c1": ["-XX:TieredStopAtLevel=1"], "full": []}
_START_TIMEOUT_SECONDS = 120
# A controlled shutdown moves leadership and flushes logs; give it time before SIGKILL.
_STOP_GRACE_SECONDS = 30
_MAX_NODE_RECORDS = 9


def _node_dir(profile: Profile, node: KafkaNode) -> Path:
    if profile.kafka_brokers == 1:
        return profile.kafka_dir
    return profile.kafka_dir / f"brokers-{profile.kafka_brokers}" / f"node-{node.node_id}"


def _properties_file(profile: Profile, node: KafkaNode) -> Path:
    return _node_dir(profile, node) / "server.properties"


def _data_dir(profile: Profile, node: KafkaNode) -> Path:
    return _node_dir(profile, node) / "data"


def _record_file(profile: Profile, name: str) -> Path:
    return record_file(profile.run_dir, name)


def _node_logs_dir(profile: Profile, node: KafkaNode) -> Path:
    # log4j (deploy/kafka/log4j.properties) writes kafka.log into kafka.logs.dir.
    return profile.logs_dir if node.node_id == 1 else profile.logs_dir / node.process_name


def _broker_log(profile: Profile, node: KafkaNode) -> Path:
    return _node_logs_dir(profile, node) / "kafka.log"


def _console_log(profile: Profile, node: KafkaNode) -> Path:
    # The JVM's own stdout/stderr, which only carries start-up failures.
    return profile.logs_dir / f"{node.process_name}-console.log"


def _record_names() -> list[str]:
    return ["kafka", *(f"kafka-{n}" for n in range(2, _MAX_NODE_RECORDS + 1))]


def running_nodes(profile: Profile) -> dict[str, ProcessRecord]:
    """Every Kafka node of this stack that runs, whatever shape it was started with."""
    found = {}
    for name in _record_names():
        record = running_record(_record_file(profile, name))
        if record is not None:
            found[name] = record
    return found


def running(profile: Profile) -> ProcessRecord | None:
    """Node 1 (the only node of a single-broker stack), if it runs."""
    return running_nodes(profile).get("kafka")


def ensure_running(profile: Profile) -> None:
    nodes = profile.kafka_nodes
    existing = running_nodes(profile)
    _refuse_other_shape(profile, existing)
    to_start = [node for node in nodes if node.process_name not in existing]
    for node in nodes:
        if node.process_name in existing:
            step(f"Kafka node {node.node_id} already running on {node.address}")
    if to_start:
        for node in to_start:
            ports.require_free(node.port, f"Kafka broker {node.node_id}", _port_setting(profile))
            ports.require_free(
                node.controller_port,
                f"Kafka controller {node.node_id}",
                profile.setting_name("KAFKA_CONTROLLER_PORT"),
            )
        java = require_java()
        classpath = f"{ensure_jars()}/*"
        cluster_id = _new_cluster_id()
        for node in to_start:
            _write_properties(profile, node)
            if not (_data_dir(profile, node) / "meta.properties").exists():
                _format_storage(profile, node, java, classpath, cluster_id)
        # Every node is started before any is awaited: a cluster answers only once a
        # majority of its controller quorum is up.
        for node in to_start:
            _start_node(profile, node, java, classpath)
    for node in nodes:
        _wait_until_ready(profile, node)


def _port_setting(profile: Profile) -> str:
    return profile.setting_name("KAFKA_PORT")


def _refuse_other_shape(profile: Profile, existing: dict[str, ProcessRecord]) -> None:
    wanted = {node.process_name: node for node in profile.kafka_nodes}
    for name, record in existing.items():
        node = wanted.get(name)
        started_as = Path(record.command_marker)
        if (
            node is None
            or started_as != _properties_file(profile, node)
            or record.port != node.port
        ):
            raise DevstackError(
                f"this stack's Kafka already runs in another shape ({name} on port "
                f"{record.port}, {len(existing)} node(s)), but "
                f"{profile.setting_name('KAFKA_BROKERS')}={profile.kafka_brokers} and "
                f"{_port_setting(profile)}={profile.kafka_port} ask for "
                f"{len(wanted)} node(s) from port {profile.kafka_port}: stop it first "
                f"(`make down` / `make test-down`)"
            )


def _start_node(profile: Profile, node: KafkaNode, java: str, classpath: str) -> None:
    where = f"node {node.node_id} of {profile.kafka_brokers} " if profile.kafka_brokers > 1 else ""
    step(f"starting Kafka {kafka_version()} {where}on {node.address}…")
    heap = os.environ.get(HEAP_SETTING, "").strip() or _DEFAULT_HEAP
    jit = os.environ.get(JIT_SETTING, "").strip() or "c1"
    if jit not in _JIT_OPTIONS:
        raise DevstackError(f"{JIT_SETTING}={jit!r}: use one of {', '.join(_JIT_OPTIONS)}")
    properties = str(_properties_file(profile, node))
    start_detached(
        [
            java,
            f"-Xmx{heap}",
            *_JIT_OPTIONS[jit],
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={_node_logs_dir(profile, node)}",
            f"-Dlog4j.configuration=file:{KAFKA_LOG4J_CONFIG}",
            "-cp",
            classpath,
            "kafka.Kafka",
            properties,
        ],
        log_file=_console_log(profile, node),
        env=os.environ,
        record_path=_record_file(profile, node.process_name),
        port=node.port,
        command_marker=properties,
    )


def _write_properties(profile: Profile, node: KafkaNode) -> None:
    host = ports.LOOPBACK
    voters = ",".join(f"{n.node_id}@{host}:{n.controller_port}" for n in profile.kafka_nodes)
    replication = str(profile.topic_replication_factor)
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": (f"PLAINTEXT://{host}:{node.port},CONTROLLER://{host}:{node.controller_port}"),
        "advertised.listeners": f"PLAINTEXT://{host}:{node.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(_data_dir(profile, node)),
        # As many copies of the internal topics as the cluster allows (1 on a single node).
        "offsets.topic.replication.factor": replication,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": str(profile.topic_min_insync_replicas),
        "default.replication.factor": replication,
        # min.insync.replicas stays the broker default (1): the aftercare topics carry
        # their own (2 on a cluster), and tests' throwaway single-replica topics must
        # still accept acks=all writes.
        # Matches the topics module's default, should a topic be auto-created.
        "num.partitions": "6",
        # Fewer offset partitions: the first consumer group joins faster on a small box.
        "offsets.topic.num.partitions": "10",
        # Tests start consumers and expect them assigned at once, not after 3 s.
        "group.initial.rebalance.delay.ms": "0",
    }
    _properties_file(profile, node).parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={value}\n" for key, value in settings.items())
    _properties_file(profile, node).write_text(body)


def _new_cluster_id() -> str:
    # Kafka's own format: 16 random bytes, URL-safe base64 without padding, not
    # starting with "-" (it would read as a command-line flag).
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _format_storage(
    profile: Profile, node: KafkaNode, java: str, classpath: str, cluster_id: str
) -> None:
    step(f"formatting Kafka storage of node {node.node_id} (first run only)…")
    run(
        [
            java,
            f"-Dlog4j.configuration=file:{KAFKA_LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={_node_logs_dir(profile, node)}",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={_cluster_id_of_formatted_nodes(profile) or cluster_id}",
            f"--config={_properties_file(profile, node)}",
        ],
        what="formatting Kafka storage",
    )


def _cluster_id_of_formatted_nodes(profile: Profile) -> str | None:
    """A node formatted anew joins the cluster its formatted siblings already belong to."""
    for node in profile.kafka_nodes:
        meta = _data_dir(profile, node) / "meta.properties"
        if meta.is_file():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    return None


def _wait_until_ready(profile: Profile, node: KafkaNode) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if broker_answers(ports.LOOPBACK, node.port):
            return
        if node.process_name not in running_nodes(profile):
            raise DevstackError(
                f"Kafka node {node.node_id} exited during start-up.\n{_recent_logs(profile, node)}"
            )
        time.sleep(0.5)
    raise DevstackError(
        f"Kafka node {node.node_id} did not answer on {node.address} within "
        f"{_START_TIMEOUT_SECONDS}s.\n{_recent_logs(profile, node)}"
    )


def _recent_logs(profile: Profile, node: KafkaNode) -> str:
    shown = []
    for log in (_console_log(profile, node), _broker_log(profile, node)):
        if log.is_file():
            shown.append(f"--- last lines of {log} ---\n{tail(log.read_text(errors='replace'))}")
    return "\n".join(shown)


def stop_broker(profile: Profile) -> None:
    """Stops every node at once: stopped one by one, the last ones would wait out their
    controlled shutdown for a quorum that is already gone."""
    records = {f"Kafka ({name})": _record_file(profile, name) for name in running_nodes(profile)}
    stop_together(records, _STOP_GRACE_SECONDS)
