"""The load generators the bench drives: Debian's ``wrk`` and Postgres's ``pgbench``.

``wrk`` is installed with apt when missing, so ``make bench`` needs nothing done by hand.
``pgbench`` ships with the Postgres server package the dev stack already requires.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
PG_BIN_SETTING = "AFTERCARE_PG_BIN"


class ToolMissingError(RuntimeError):
    pass


def ensure_wrk() -> str:
    """The path of ``wrk``, installing Debian's package first if it is not there."""
    found = shutil.which("wrk")
    if found:
        return found
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise ToolMissingError("wrk is not installed and there is no apt-get to install it")
    prefix = [] if os.geteuid() == 0 else _sudo()
    print("bench: wrk not found; installing it with apt-get (update, install -y wrk)…")
    env = {**os.environ, **APT_ENV}
    for command in (
        [*prefix, apt_get, "update", "-qq"],
        [*prefix, apt_get, "install", "-y", "-qq", "wrk"],
    ):
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise ToolMissingError(
                f"`{' '.join(command)}` failed ({completed.returncode}):\n{completed.stderr}"
            )
    found = shutil.which("wrk")
    if found is None:
        raise ToolMissingError("apt-get installed wrk but it is not on PATH")
    return found


def _sudo() -> list[str]:
    sudo = shutil.which("sudo")
    if sudo is None:
        raise ToolMissingError("wrk is missing; run `apt-get install -y wrk` as root")
    return [sudo, "-n"]


def find_pgbench() -> str:
    """``pgbench`` from AFTERCARE_PG_BIN, PATH or Debian's per-version server folders."""
    override = os.environ.get(PG_BIN_SETTING, "").strip()
    if override:
        candidates = [Path(override) / "pgbench"]
    else:
        on_path = shutil.which("pgbench")
        debian = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/pgbench"),
            key=lambda path: (
                int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0
            ),
            reverse=True,
        )
        candidates = [
            *([Path(on_path)] if on_path else []),
            *debian,
            Path("/usr/local/pgsql/bin/pgbench"),
        ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ToolMissingError(
        "pgbench not found (it ships with the Postgres server: `apt-get install -y postgresql`,"
        f" or set {PG_BIN_SETTING} to the folder holding it)"
    )
