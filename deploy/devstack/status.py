"""`make status`: what each stack runs right now."""

import os
from dataclasses import replace

from . import kafka_broker, pg_location, postgres, services
from .kafka_probe import broker_answers
from .ports import LOOPBACK, answers
from .processes import record_file, running_record
from .profiles import Profile, ServiceEndpoint


def describe(profile: Profile) -> str:
    profile = _as_started(profile)
    rows = [_postgres_row(profile), *_kafka_rows(profile)]
    rows += [_service_row(profile, service) for service in profile.services]
    rows += _other_replica_rows(profile)
    return f"{profile.name} stack ({profile.state_dir}):\n" + "\n".join(rows)


def _as_started(profile: Profile) -> Profile:
    """The shape the stack was started with (its env file says KAFKA_BROKERS=3) when this
    shell does not set one: `make status` then lists a stopped broker of the cluster too."""
    setting = profile.setting_name("KAFKA_BROKERS")
    if os.environ.get(setting, "").strip() or not profile.env_file.is_file():
        return profile
    for line in profile.env_file.read_text().splitlines():
        name, _, value = line.partition("=")
        if name == setting and value.isdigit():
            return replace(profile, kafka_brokers=int(value))
    return profile


def _row(component: str, state: str, detail: str = "") -> str:
    return f"  {component:<10} {state:<12} {detail}".rstrip()


def _postgres_row(profile: Profile) -> str:
    if not profile.runs_postgres:
        return _row("postgres", "external", profile.database_url)
    place = pg_location.resolve(profile)
    port = place.running_port()
    if port is None:
        row = _row("postgres", "stopped")
    else:
        state = "running" if answers(port) else "not answering"
        row = _row("postgres", state, f"127.0.0.1:{port}")
    # The cluster may live outside the checkout (see pg_location): say where.
    data = place.data_dir if place.holds_cluster() else f"none yet (goes to {place.data_dir})"
    log = postgres.log_file(profile)
    return "\n".join([row, _row("", "data", str(data)), _row("", "log", str(log))])


def _kafka_rows(profile: Profile) -> list[str]:
    """One row per broker: the shape this shell asks for, plus any node running beyond it."""
    if not profile.runs_kafka:
        return [_row("kafka", "external", profile.kafka_bootstrap)]
    running = kafka_broker.running_nodes(profile)
    names = [node.process_name for node in profile.kafka_nodes]
    names += [name for name in running if name not in names]
    rows = []
    for name in names:
        record = running.get(name)
        if record is None:
            rows.append(_row(name, "stopped"))
            continue
        state = "running" if broker_answers(LOOPBACK, record.port) else "starting"
        rows.append(_row(name, state, f"pid {record.pid}  127.0.0.1:{record.port}"))
    return rows


def _service_row(profile: Profile, service: ServiceEndpoint) -> str:
    record = running_record(record_file(profile.run_dir, service.process_name))
    if record is None:
        return _row(service.process_name, "stopped")
    state = "ready" if services.is_ready(service) else "not ready"
    return _row(service.process_name, state, f"pid {record.pid}  {service.url}")


def print_status(profiles: list[Profile]) -> None:
    print("\n".join(describe(profile) for profile in profiles))


def _other_replica_rows(profile: Profile) -> list[str]:
    """Replicas started with a larger REPLICAS than this shell sets: still listed."""
    known = {service.process_name for service in profile.services}
    rows = []
    for name, path in services.service_records(profile).items():
        record = running_record(path)
        if name in known or record is None:
            continue
        endpoint = ServiceEndpoint(name.split("-", 1)[0], record.port)
        state = "ready" if services.is_ready(endpoint) else "not ready"
        rows.append(_row(name, state, f"pid {record.pid}  {endpoint.url}"))
    return rows
