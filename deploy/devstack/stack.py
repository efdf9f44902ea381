"""A whole stack, in order: tools and ports first (fail before anything slow), then the
workspace, Postgres, Kafka, database, topics, migrations, services, the env file."""

import os

from . import kafka_broker, kafka_jars, postgres, python_env, services
from .admin_token import resolve_admin_token
from .commands import run
from .console import step
from .env_file import write_env_file
from .java import require_java
from .paths import REPO_ROOT
from .ports import require_free
from .profiles import (
    SERVICE_DEFAULT_PORTS,
    Profile,
    refuse_clashes_with_other_stacks,
    without_password,
)

MIGRATED_SERVICES = tuple(SERVICE_DEFAULT_PORTS)


def up(profile: Profile, *, with_services: bool) -> dict[str, str]:
    """Brings the stack up (what already runs is left alone) and returns its settings."""
    _preflight(profile, with_services=with_services)
    python_env.sync_workspace()
    if profile.runs_postgres:
        postgres.ensure_running(profile)
        postgres.ensure_database(profile)
    else:
        step(f"using the given database {without_password(profile.database_url)}")
    if profile.runs_kafka:
        kafka_broker.ensure_running(profile)
    else:
        step(f"using the given Kafka at {profile.kafka_bootstrap}")
    already_running = bool(services.running_services(profile))
    settings = stack_settings(profile, resolve_admin_token(profile, already_running))
    if with_services and profile.services:
        environment = {**os.environ, **settings}
        _create_topics(environment)
        _migrate(environment)
        services.start_all(profile, python_env.require_venv_tool("uvicorn"), environment)
        services.wait_until_ready(profile)
    if profile.kafka_brokers > 1 and not (with_services and profile.services):
        # Tests and benches create topics as they need them, with one replica; on a
        # cluster the stack creates them first, with the cluster's replication.
        _create_topics({**os.environ, **settings})
    write_env_file(profile.env_file, settings)
    step(f"settings written to {profile.env_file.relative_to(REPO_ROOT)}")
    return settings


def _preflight(profile: Profile, *, with_services: bool) -> None:
    refuse_clashes_with_other_stacks(profile)
    if profile.runs_postgres and postgres.running_port(profile) is None:
        postgres.find_bin_dir()
        require_free(profile.pg_port, "Postgres", profile.setting_name("PG_PORT"))
    if profile.runs_kafka and not kafka_broker.running_nodes(profile):
        require_java()
        kafka_jars.require_maven_if_needed()
        for node in profile.kafka_nodes:
            require_free(
                node.port, f"Kafka broker {node.node_id}", profile.setting_name("KAFKA_PORT")
            )
            require_free(
                node.controller_port,
                f"Kafka controller {node.node_id}",
                profile.setting_name("KAFKA_CONTROLLER_PORT"),
            )
    if with_services:
        services.require_ports_free(profile)


def stack_settings(profile: Profile, admin_token: str) -> dict[str, str]:
    settings = {
        "AFTERCARE_DATABASE_URL": profile.database_url,
        "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": profile.kafka_bootstrap,
        "AFTERCARE_ADMIN_TOKEN": admin_token,
        **{
            setting: os.environ.get(setting, services.LOCAL_SSRF_ALLOWLIST)
            for setting in services.SSRF_ALLOWLIST_SETTINGS
        },
    }
    for service in profile.services:
        if service.replica == 1:
            settings[f"{service.name.upper()}_URL"] = service.url
    for name in SERVICE_DEFAULT_PORTS:
        replicas = [s.url for s in profile.services if s.name == name]
        if replicas:
            # Every replica, for tools that spread load or check each one (aftercare stack status).
            settings[f"{name.upper()}_URLS"] = ",".join(replicas)
    if profile.replicas > 1:
        settings[profile.setting_name("REPLICAS")] = str(profile.replicas)
    if profile.kafka_brokers > 1:
        settings[profile.setting_name("KAFKA_BROKERS")] = str(profile.kafka_brokers)
        # Read by `python -m aftercare_shared.topics` (and the services' topic creation).
        settings["AFTERCARE_TOPIC_REPLICATION_FACTOR"] = str(profile.topic_replication_factor)
        settings["AFTERCARE_TOPIC_MIN_INSYNC_REPLICAS"] = str(profile.topic_min_insync_replicas)
    if profile.runs_postgres:
        settings[profile.setting_name("PG_PORT")] = str(profile.pg_port)
    if profile.runs_kafka:
        settings[profile.setting_name("KAFKA_PORT")] = str(profile.kafka_port)
        settings[profile.setting_name("KAFKA_CONTROLLER_PORT")] = str(profile.kafka_controller_port)
    return settings


def _create_topics(environment: dict[str, str]) -> None:
    step("creating Kafka topics (python -m aftercare_shared.topics)…")
    run(
        [python_env.require_venv_tool("python"), "-m", "aftercare_shared.topics"],
        what="creating Kafka topics",
        env=environment,
        capture=False,
    )


def _migrate(environment: dict[str, str]) -> None:
    step(f"migrating {', '.join(MIGRATED_SERVICES)} (python -m aftercare_shared.migrate)…")
    run(
        [
            python_env.require_venv_tool("python"),
            "-m",
            "aftercare_shared.migrate",
            *MIGRATED_SERVICES,
        ],
        what="running migrations",
        env=environment,
        capture=False,
    )


def down(profile: Profile) -> None:
    was_running = is_anything_running(profile)
    services.stop_all(profile)
    kafka_broker.stop_broker(profile)
    postgres.stop(profile)
    step(
        f"{profile.name} stack stopped" if was_running else f"{profile.name} stack was not running"
    )


def is_anything_running(profile: Profile) -> bool:
    return bool(
        services.running_services(profile)
        or kafka_broker.running_nodes(profile)
        or postgres.running_port(profile) is not None
    )


def print_summary(profile: Profile, settings: dict[str, str], *, with_services: bool) -> None:
    lines = [f"the {profile.name} stack is up:"]
    if with_services:
        lines += [f"  {service.process_name:<10} {service.url}" for service in profile.services]
    lines.append(f"  {'Postgres':<10} {without_password(settings['AFTERCARE_DATABASE_URL'])}")
    if profile.runs_postgres:
        lines.append(f"  {'':<10} data in {postgres.data_dir(profile)}")
    lines += [
        f"  {'Kafka':<10} {settings['AFTERCARE_KAFKA_BOOTSTRAP_SERVERS']}",
        f"  admin token: {settings['AFTERCARE_ADMIN_TOKEN']}",
        f"  logs: {profile.logs_dir.relative_to(REPO_ROOT)}/   "
        f"settings: `set -a; . {profile.env_file.relative_to(REPO_ROOT)}; set +a`",
    ]
    step("\n".join(lines))
