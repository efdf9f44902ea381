"""Long-running processes the stack starts (Kafka, the services): start them detached,
remember them in a record file, tell whether they still run, stop them."""

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .console import DevstackError, step, warn
from .paths import REPO_ROOT

_EXEC_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    port: int
    # A piece of the command line: a recycled pid must not pass for our process.
    command_marker: str


def record_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


def read_record(path: Path) -> ProcessRecord | None:
    try:
        return ProcessRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def running_record(path: Path) -> ProcessRecord | None:
    """The record when its process still runs; a stale record is removed."""
    record = read_record(path)
    if record is None:
        return None
    if is_running(record.pid, record.command_marker):
        return record
    path.unlink(missing_ok=True)
    return None


def is_running(pid: int, command_marker: str) -> bool:
    _reap_if_our_child(pid)
    proc = Path(f"/proc/{pid}")
    if proc.parent.is_dir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
        # The state letter follows the parenthesised name; Z is a zombie, i.e. gone.
        zombie = stat.rsplit(")", 1)[1].split()[0] == "Z"
        return not zombie and command_marker in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_if_our_child(pid: int) -> None:
    # A process this very run started and stopped stays a zombie until waited for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def start_detached(
    argv: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str],
    record_path: Path,
    port: int,
    command_marker: str,
) -> ProcessRecord:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        # Own session: it outlives `make`, Ctrl-C in the terminal does not reach it, and
        # stopping signals its whole process group.
        process = subprocess.Popen(  # noqa: S603 - argv built by this package
            list(argv),
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    record = ProcessRecord(pid=process.pid, port=port, command_marker=command_marker)
    record_path.write_text(json.dumps(asdict(record)))
    _wait_for_exec(process, command_marker)
    return record


def _wait_for_exec(process: subprocess.Popen[bytes], command_marker: str) -> None:
    # Until the child has exec'd, its command line is still ours and lacks the marker:
    # asking is_running() then would call a healthy start dead.
    deadline = time.monotonic() + _EXEC_TIMEOUT_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if is_running(process.pid, command_marker):
            return
        time.sleep(0.01)


def stop(record_path: Path, name: str, grace_seconds: float) -> None:
    stop_together({name: record_path}, grace_seconds)


def stop_together(records: Mapping[str, Path], grace_seconds: float) -> None:
    """SIGTERM to all at once (they drain in parallel), wait up to `grace_seconds` for a
    clean shutdown, then SIGKILL whatever is left."""
    running = {}
    for name, path in records.items():
        record = running_record(path)
        if record is not None:
            step(f"stopping {name} (pid {record.pid})…")
            _signal_group(record.pid, signal.SIGTERM)
            running[name] = record
    deadline = time.monotonic() + grace_seconds
    while running and time.monotonic() < deadline:
        time.sleep(0.2)
        running = {n: r for n, r in running.items() if is_running(r.pid, r.command_marker)}
    for name, record in running.items():
        warn(f"{name} did not stop within {grace_seconds:.0f}s; killing it")
        _signal_group(record.pid, signal.SIGKILL)
    kill_deadline = time.monotonic() + 10
    while running:
        if time.monotonic() > kill_deadline:
            raise DevstackError(f"still running after SIGKILL: {', '.join(running)}")
        time.sleep(0.1)
        running = {n: r for n, r in running.items() if is_running(r.pid, r.command_marker)}
    for path in records.values():
        path.unlink(missing_ok=True)


def _signal_group(pid: int, signal_number: signal.Signals) -> None:
    try:
        os.killpg(pid, signal_number)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, signal_number)
