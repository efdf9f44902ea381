"""Running other programs. Every subprocess goes through here, resolved to an absolute
path first, so a missing tool is reported by name instead of as a traceback."""

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from .console import DevstackError, tail
from .paths import REPO_ROOT


def require_tool(name: str, install_hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DevstackError(f"`{name}` was not found on PATH: {install_hint}")
    return found


def as_user(user: str | None, argv: Sequence[str]) -> list[str]:
    """Postgres refuses to run as root, so as root its tools run as `user` instead."""
    if user is None or os.geteuid() != 0:
        return list(argv)
    runuser = require_tool("runuser", "it comes with util-linux")
    return [runuser, "-u", user, "--", *argv]


def run(
    argv: Sequence[str | Path],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run to completion. With `capture`, output is kept and shown only when it fails;
    without, it streams to the terminal (migrations, pytest)."""
    command = [str(part) for part in argv]
    try:
        # The argv is built by this package from resolved tool paths, never from a shell.
        completed = subprocess.run(  # noqa: S603
            command,
            cwd=REPO_ROOT,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=capture,
            text=True,
            check=False,
        )
    except FileNotFoundError as missing:
        raise DevstackError(f"{what}: cannot run {command[0]}: {missing}") from missing
    if check and completed.returncode != 0:
        output = tail((completed.stdout or "") + (completed.stderr or ""))
        shown = f"\n{output}" if output else ""
        raise DevstackError(
            f"{what} failed (exit {completed.returncode}): {' '.join(command)}{shown}"
        )
    return completed
