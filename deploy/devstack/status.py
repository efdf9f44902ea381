"""`make status`: what each stack runs right now."""

from . import kafka_broker, pg_location, postgres, services
from .kafka_probe import broker_answers
from .ports import LOOPBACK, answers
from .processes import record_file, running_record
from .profiles import Profile, ServiceEndpoint


def describe(profile: Profile) -> str:
    rows = [_postgres_row(profile), _kafka_row(profile)]
    rows += [_service_row(profile, service) for service in profile.services]
    rows += _other_replica_rows(profile)
    return f"{profile.name} stack ({profile.state_dir}):\n" + "\n".join(rows)


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


def _kafka_row(profile: Profile) -> str:
    if not profile.runs_kafka:
        return _row("kafka", "external", profile.kafka_bootstrap)
    record = kafka_broker.running(profile)
    if record is None:
        return _row("kafka", "stopped")
    state = "running" if broker_answers(LOOPBACK, record.port) else "starting"
    return _row("kafka", state, f"pid {record.pid}  127.0.0.1:{record.port}")


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
