"""The four services, each its own uvicorn process, and waiting for their /readyz."""

import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from . import ports
from .console import DevstackError, step, tail
from .processes import record_file, running_record, start_detached, stop, stop_together
from .profiles import SERVICE_DEFAULT_PORTS, Profile, ServiceEndpoint

SERVICE_NAMES = tuple(SERVICE_DEFAULT_PORTS)

# Local webhook receivers (notify) and local sites probed by uptime monitors (intake)
# listen on loopback, which production refuses (SSRF).
SSRF_ALLOWLIST_SETTINGS = ("NOTIFY_SSRF_ALLOWLIST", "INTAKE_PROBE_ALLOWLIST")
LOCAL_SSRF_ALLOWLIST = "127.0.0.0/8,::1/128"
READY_TIMEOUT_SETTING = "AFTERCARE_READY_TIMEOUT_SECONDS"
_DEFAULT_READY_TIMEOUT_SECONDS = 90
# Uvicorn drains in-flight requests and the consumers commit before exiting.
_STOP_GRACE_SECONDS = 20


def running_services(profile: Profile) -> list[ServiceEndpoint]:
    return [s for s in profile.services if running_record(_record(profile, s))]


def _record(profile: Profile, service: ServiceEndpoint) -> Path:
    return record_file(profile.run_dir, service.process_name)


def service_records(profile: Profile) -> dict[str, Path]:
    """Every service process this stack has a record of, whatever REPLICAS now says (a
    stack started with REPLICAS=2 is stopped whole by a plain `make down`)."""
    names = {service.name for service in profile.services} or set(SERVICE_NAMES)
    found = {}
    for path in sorted(profile.run_dir.glob("*.json")):
        if path.stem.split("-", 1)[0] in names and path.stem != "kafka":
            found[path.stem] = path
    return found


def require_ports_free(profile: Profile) -> None:
    already_running = running_services(profile)
    for service in profile.services:
        if service not in already_running:
            _require_port_free(profile, service)


def _require_port_free(profile: Profile, service: ServiceEndpoint) -> None:
    setting = profile.setting_name(f"{service.name.upper()}_PORT")
    ports.require_free(service.port, f"the {service.name} service", setting)


def start_all(profile: Profile, uvicorn: str, service_env: Mapping[str, str]) -> None:
    for service in profile.services:
        record_path = _record(profile, service)
        existing = running_record(record_path)
        name = service.process_name
        if existing is not None and existing.port == service.port:
            step(f"{name} already running (pid {existing.pid}) on {service.url}")
            continue
        if existing is not None:
            stop(record_path, name, _STOP_GRACE_SECONDS)
        _require_port_free(profile, service)
        step(f"starting {name} on {service.url}…")
        start_detached(
            [
                uvicorn,
                "--factory",
                service.app_factory,
                "--host",
                ports.LOOPBACK,
                "--port",
                str(service.port),
            ],
            log_file=profile.logs_dir / f"{service.process_name}.log",
            env=service_env,
            record_path=record_path,
            port=service.port,
            command_marker=service.app_factory,
        )


def wait_until_ready(profile: Profile) -> None:
    timeout = _ready_timeout()
    step(
        f"waiting for /readyz of {', '.join(s.process_name for s in profile.services)} "
        f"(up to {timeout}s)…"
    )
    deadline = time.monotonic() + timeout
    waiting = list(profile.services)
    while waiting:
        for service in list(waiting):
            if is_ready(service):
                step(f"{service.process_name} is ready")
                waiting.remove(service)
            elif running_record(_record(profile, service)) is None:
                raise DevstackError(
                    f"{service.process_name} exited during start-up.\n{_log_tail(profile, service)}"
                )
        if waiting and time.monotonic() > deadline:
            details = "\n".join(_log_tail(profile, service) for service in waiting)
            names = ", ".join(service.process_name for service in waiting)
            raise DevstackError(f"not ready after {timeout}s: {names}.\n{details}")
        if waiting:
            time.sleep(0.5)


def _ready_timeout() -> int:
    raw = os.environ.get(READY_TIMEOUT_SETTING, "").strip()
    if not raw:
        return _DEFAULT_READY_TIMEOUT_SECONDS
    if not raw.isdigit():
        raise DevstackError(f"{READY_TIMEOUT_SETTING}={raw!r} is not a number of seconds")
    return int(raw)


def is_ready(service: ServiceEndpoint) -> bool:
    readyz = f"{service.url}/readyz"
    try:
        # An http://127.0.0.1 URL this package builds, never a user-given scheme.
        with urllib.request.urlopen(readyz, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(profile: Profile, service: ServiceEndpoint) -> str:
    log = profile.logs_dir / f"{service.process_name}.log"
    text = log.read_text(errors="replace") if log.is_file() else "(no log yet)"
    return f"--- last lines of {log} ---\n{tail(text)}"


def stop_all(profile: Profile) -> None:
    stop_together(service_records(profile), _STOP_GRACE_SECONDS)
