"""`make test` and `make bench`: an infra-only stack of their own, a command run against it
with its settings exported, then the stack stopped again."""

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from .commands import run
from .console import DevstackError, step
from .profiles import SERVICE_DEFAULT_PORTS, Profile
from .stack import down, up

# A shell that sourced .devstack/env would otherwise point tests at the dev services.
_DEV_SERVICE_URLS = {
    f"{service.upper()}_{suffix}" for service in SERVICE_DEFAULT_PORTS for suffix in ("URL", "URLS")
}


def run_against_stack(
    profile: Profile,
    command: Sequence[str],
    keep_setting: str,
    beside: Sequence[str] | None = None,
) -> int:
    """Run `command` against the profile's stack. `beside`, when given, is a second
    command run at the same time, its output kept in the stack's logs and shown after
    `command` ends; the exit code is the first non-zero of the two."""
    try:
        settings = up(profile, with_services=False)
        inherited = {k: v for k, v in os.environ.items() if k not in _DEV_SERVICE_URLS}
        env = {**inherited, **settings}
        step(f"running {' '.join(command)} against the {profile.name} stack…")
        return run_side_by_side(command, beside, env, profile.logs_dir)
    finally:
        # Also after a failed start-up or Ctrl-C: CI must not leave servers behind.
        if os.environ.get(keep_setting, "").strip() == "1":
            step(f"{keep_setting}=1: leaving the {profile.name} stack running")
        else:
            down(profile)


def run_side_by_side(
    command: Sequence[str], beside: Sequence[str] | None, env: Mapping[str, str], logs_dir: Path
) -> int:
    """`command` with the terminal, `beside` (if any) at the same time into a log shown
    after it; the first non-zero exit code of the two."""
    side = None if beside is None else _start_beside(beside, env, logs_dir)
    try:
        completed = run(command, what=command[0], env=env, capture=False, check=False)
        side_code = 0 if side is None else _finish_beside(*side)
    finally:
        # Ctrl-C or a failed start: the second run must not outlive the stack it uses.
        if side is not None:
            _stop_beside(side[0])
    return completed.returncode or side_code


def _start_beside(
    command: Sequence[str], env: Mapping[str, str], logs_dir: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    log = logs_dir / "pytest-beside.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    step(f"running {' '.join(command)} beside it, output in {log}…")
    with log.open("wb") as output:
        try:
            # The argv is built by devstack from resolved tool paths, never from a shell.
            process = subprocess.Popen(  # noqa: S603
                list(command),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        except FileNotFoundError as missing:
            raise DevstackError(f"cannot run {command[0]}: {missing}") from missing
    return process, log


def _finish_beside(process: subprocess.Popen[bytes], log: Path) -> int:
    step("waiting for the tests run beside it…")
    code = process.wait()
    step(f"output of the tests run beside it ({log}), exit {code}:")
    print(log.read_text(errors="replace"), flush=True)
    return code


def _stop_beside(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # SIGINT lets pytest tear its fixtures down, which stop the brokers and services the
    # tests started; SIGKILL only if that hangs.
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
