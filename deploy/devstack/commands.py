"""Running other programs. Every subprocess goes through here, resolved to an absolute
path first, so a missing tool is reported by name instead of as a traceback."""

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO

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
    cwd: Path = REPO_ROOT,
    output_file: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run to completion. With `capture`, output is kept and shown only when it fails;
    without, it streams to the terminal (migrations, pytest). With `output_file`, output is
    appended to that file instead, through a descriptor opened here: a program run as
    another user (runuser) writes to it even where that user could not open the path,
    and a server it starts in the background keeps logging there."""
    command = [str(part) for part in argv]
    with ExitStack() as cleanup:
        output: IO[bytes] | None = None
        if output_file is not None:
            output = cleanup.enter_context(output_file.open("ab"))
        try:
            # The argv is built by this package from resolved tool paths, never from a shell.
            completed = subprocess.run(  # noqa: S603
                command,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                capture_output=capture and output is None,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                text=True,
                check=False,
            )
        except FileNotFoundError as missing:
            raise DevstackError(f"{what}: cannot run {command[0]}: {missing}") from missing
    if check and completed.returncode != 0:
        output_text = tail((completed.stdout or "") + (completed.stderr or ""))
        shown = f"\n{output_text}" if output_text else ""
        raise DevstackError(
            f"{what} failed (exit {completed.returncode}): {' '.join(command)}{shown}"
        )
    return completed
