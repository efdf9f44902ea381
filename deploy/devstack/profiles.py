"""The three stacks that can run side by side (dev, test, bench) and the settings each reads.

Every setting of a profile is an environment variable ``<prefix><NAME>``: the dev stack
reads ``AFTERCARE_PG_PORT``, the test stack ``AFTERCARE_TEST_PG_PORT``. Separate names
keep a shell that sourced ``.devstack/env`` from pointing `make test` at the dev database.
"""

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .console import DevstackError
from .paths import DEVSTACK_DIR


@dataclass(frozen=True)
class ServiceEndpoint:
    name: str
    port: int
    # 1 for the first process of a service; `make up REPLICAS=n` adds 2..n.
    replica: int = 1

    @property
    def process_name(self) -> str:
        """``intake`` for the first replica, ``intake-2`` for the second: record and log names."""
        return self.name if self.replica == 1 else f"{self.name}-{self.replica}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app_factory(self) -> str:
        return f"aftercare_{self.name}.app:create_app"


@dataclass(frozen=True)
class KafkaNode:
    """One KRaft node (broker and controller in one process) of a stack's Kafka."""

    node_id: int
    port: int
    controller_port: int

    @property
    def process_name(self) -> str:
        """``kafka`` for node 1 (as with a single broker), ``kafka-2``, ``kafka-3``…"""
        return "kafka" if self.node_id == 1 else f"kafka-{self.node_id}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


# `make up KAFKA_BROKERS=3`: node n listens on KAFKA_PORT + 2(n-1) and its controller on
# KAFKA_CONTROLLER_PORT + 2(n-1). With the defaults (19092/19093, test 19192/19193, bench
# 19292/19293) the dev cluster takes 19092-19097 and never reaches the test stack's ports.
KAFKA_NODE_PORT_STEP = 2
MAX_KAFKA_BROKERS = 5
# Replication on a cluster: three copies, and an acknowledged write is on two of them, so
# one broker may die without losing or refusing an acknowledged record.
CLUSTER_REPLICATION_FACTOR = 3
CLUSTER_MIN_INSYNC_REPLICAS = 2


@dataclass(frozen=True)
class Profile:
    name: str
    env_prefix: str
    state_dir: Path
    pg_port: int
    kafka_port: int
    kafka_controller_port: int
    database_name: str
    # None: this stack runs its own server; otherwise the address the user gave.
    external_database_url: str | None
    external_kafka_bootstrap: str | None
    admin_token_override: str | None
    # Empty for the infra-only stacks: their tests start the services themselves.
    services: tuple[ServiceEndpoint, ...]
    # The test stack trades crash safety for speed: its data is thrown away anyway.
    durable_postgres: bool
    # Processes per service (`make up REPLICAS=2`); the infra-only stacks export it for
    # tests that start services themselves.
    replicas: int = 1
    # KRaft nodes in this stack's Kafka (`make up KAFKA_BROKERS=3`).
    kafka_brokers: int = 1

    @property
    def kafka_nodes(self) -> tuple[KafkaNode, ...]:
        return tuple(
            KafkaNode(
                node_id,
                self.kafka_port + KAFKA_NODE_PORT_STEP * (node_id - 1),
                self.kafka_controller_port + KAFKA_NODE_PORT_STEP * (node_id - 1),
            )
            for node_id in range(1, self.kafka_brokers + 1)
        )

    @property
    def topic_replication_factor(self) -> int:
        return min(self.kafka_brokers, CLUSTER_REPLICATION_FACTOR)

    @property
    def topic_min_insync_replicas(self) -> int:
        return CLUSTER_MIN_INSYNC_REPLICAS if self.topic_replication_factor >= 3 else 1

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def postgres_dir(self) -> Path:
        return self.state_dir / "pg"

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def admin_token_file(self) -> Path:
        return self.state_dir / "admin-token"

    @property
    def local_database_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/{self.database_name}"

    @property
    def local_kafka_bootstrap(self) -> str:
        return ",".join(node.address for node in self.kafka_nodes)

    @property
    def runs_postgres(self) -> bool:
        return self.external_database_url is None

    @property
    def runs_kafka(self) -> bool:
        return self.external_kafka_bootstrap is None

    @property
    def database_url(self) -> str:
        return self.external_database_url or self.local_database_url

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka_bootstrap or self.local_kafka_bootstrap

    def setting_name(self, name: str) -> str:
        return f"{self.env_prefix}{name}"


@dataclass(frozen=True)
class _Defaults:
    env_prefix: str
    state_dir: Path
    pg_port: int
    kafka_port: int
    kafka_controller_port: int
    database_name: str
    runs_services: bool
    durable_postgres: bool


_DEFAULTS = {
    "dev": _Defaults("AFTERCARE_", DEVSTACK_DIR, 54320, 19092, 19093, "aftercare", True, True),
    "test": _Defaults(
        "AFTERCARE_TEST_",
        DEVSTACK_DIR / "test",
        54330,
        19192,
        19193,
        "aftercare_test",
        False,
        False,
    ),
    "bench": _Defaults(
        "AFTERCARE_BENCH_",
        DEVSTACK_DIR / "bench",
        54340,
        19292,
        19293,
        "aftercare_bench",
        False,
        True,
    ),
}

PROFILE_NAMES = tuple(_DEFAULTS)

SERVICE_DEFAULT_PORTS = {"intake": 8001, "sla": 8002, "releases": 8003, "notify": 8004}


def without_password(url: str) -> str:
    """For printing: a given database URL may carry a password."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise DevstackError(f"{variable}={raw!r} is not a TCP port (1-65535)")
    return int(raw)


def _given(variable: str, local_value: str) -> str | None:
    """The user's value, or None when it is unset or just names this stack's own server
    (as after `set -a; . .devstack/env`), which must not stop the stack starting it."""
    value = os.environ.get(variable, "").strip()
    return value if value and value != local_value else None


MAX_REPLICAS = 9


def _replicas(variable: str) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_REPLICAS:
        raise DevstackError(f"{variable}={raw!r} is not a replica count (1-{MAX_REPLICAS})")
    return int(raw)


def _brokers(variable: str) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_KAFKA_BROKERS:
        raise DevstackError(
            f"{variable}={raw!r} is not a Kafka broker count (1-{MAX_KAFKA_BROKERS})"
        )
    return int(raw)


def service_endpoints(prefix: str, replicas: int) -> tuple[ServiceEndpoint, ...]:
    """Each service's replicas on consecutive ports from ``<SERVICE>_PORT``.

    With several replicas the default ports are spaced so the ranges do not overlap:
    REPLICAS=2 puts intake on 8001-8002, sla on 8003-8004, releases on 8005-8006 and notify
    on 8007-8008. Ports given by hand are used as given (a clash is refused).
    """
    endpoints = []
    for index, service in enumerate(SERVICE_DEFAULT_PORTS):
        default_port = SERVICE_DEFAULT_PORTS["intake"] + index * replicas
        first = _port(f"{prefix}{service.upper()}_PORT", default_port)
        endpoints += [
            ServiceEndpoint(service, first + replica - 1, replica)
            for replica in range(1, replicas + 1)
        ]
    return tuple(endpoints)


def load_profile(name: str) -> Profile:
    defaults = _DEFAULTS[name]
    prefix = defaults.env_prefix
    replicas = _replicas(f"{prefix}REPLICAS")
    services = service_endpoints(prefix, replicas) if defaults.runs_services else ()
    base = Profile(
        name=name,
        env_prefix=prefix,
        state_dir=defaults.state_dir,
        pg_port=_port(f"{prefix}PG_PORT", defaults.pg_port),
        kafka_port=_port(f"{prefix}KAFKA_PORT", defaults.kafka_port),
        kafka_controller_port=_port(
            f"{prefix}KAFKA_CONTROLLER_PORT", defaults.kafka_controller_port
        ),
        database_name=defaults.database_name,
        external_database_url=None,
        external_kafka_bootstrap=None,
        admin_token_override=os.environ.get(f"{prefix}ADMIN_TOKEN", "").strip() or None,
        services=services,
        durable_postgres=defaults.durable_postgres,
        replicas=replicas,
        kafka_brokers=_brokers(f"{prefix}KAFKA_BROKERS"),
    )
    profile = replace(
        base,
        external_database_url=_given(f"{prefix}DATABASE_URL", base.local_database_url),
        external_kafka_bootstrap=_given(
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS", base.local_kafka_bootstrap
        ),
    )
    _refuse_port_clashes(profile)
    return profile


def _refuse_port_clashes(profile: Profile) -> None:
    claimed: dict[int, str] = {}
    wanted = [
        ("PG_PORT", profile.pg_port, profile.runs_postgres),
        *(
            (f"{setting} (broker {node.node_id})", port, profile.runs_kafka)
            for node in profile.kafka_nodes
            for setting, port in (
                ("KAFKA_PORT", node.port),
                ("KAFKA_CONTROLLER_PORT", node.controller_port),
            )
        ),
        *((f"{s.name.upper()}_PORT (replica {s.replica})", s.port, True) for s in profile.services),
    ]
    for setting, port, used in wanted:
        if not used:
            continue
        variable = profile.setting_name(setting)
        if port in claimed:
            raise DevstackError(f"{variable} and {claimed[port]} both ask for port {port}")
        claimed[port] = variable


def claimed_ports(profile: Profile) -> dict[int, str]:
    """Every local port the stack's own servers listen on, with what listens there."""
    ports: dict[int, str] = {}
    if profile.runs_postgres:
        ports[profile.pg_port] = "Postgres"
    if profile.runs_kafka:
        for node in profile.kafka_nodes:
            ports[node.port] = f"Kafka broker {node.node_id}"
            ports[node.controller_port] = f"Kafka controller {node.node_id}"
    for service in profile.services:
        ports[service.port] = f"{service.process_name}"
    return ports


def refuse_clashes_with_other_stacks(profile: Profile) -> None:
    """The dev, test and bench stacks run side by side: none may take another's ports
    (say, a three-broker cluster whose extra brokers land on the next stack's Kafka)."""
    mine = claimed_ports(profile)
    for name in PROFILE_NAMES:
        if name == profile.name:
            continue
        theirs = claimed_ports(load_profile(name))
        for port in sorted(mine.keys() & theirs.keys()):
            raise DevstackError(
                f"port {port} is wanted by the {profile.name} stack ({mine[port]}) and by the "
                f"{name} stack ({theirs[port]}): space their *_PORT settings further apart "
                f"(n brokers use KAFKA_PORT..KAFKA_PORT+{KAFKA_NODE_PORT_STEP}(n-1))"
            )
