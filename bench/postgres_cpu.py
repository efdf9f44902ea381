"""Postgres's CPU over a load run, for "Postgres CPU per report" (issue 13).

Postgres is many processes: the postmaster and one backend per connection, plus its
background workers. A backend that exits within the run has its CPU added to the
postmaster's ``cutime``/``cstime`` when the postmaster reaps it, so the cluster's total is
the postmaster's own and reaped children's time plus every live child's: measured before
and after a run, the difference is what the run cost Postgres, whichever backends came
and went.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _fields_after_name(stat_text: str) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return stat_text[stat_text.rindex(")") + 2 :].split()


def parent_pid(pid: int, *, proc: Path = _PROC) -> int:
    """``ppid`` from ``/proc/<pid>/stat``; a backend's parent is the postmaster."""
    return int(_fields_after_name((proc / str(pid) / "stat").read_text())[1])


def cluster_cpu_ticks(postmaster_pid: int, *, proc: Path = _PROC) -> int:
    """The postmaster's utime + stime + cutime + cstime, plus each live child's utime + stime."""
    own = _fields_after_name((proc / str(postmaster_pid) / "stat").read_text())
    # After the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
    total = sum(int(value) for value in own[11:15])
    for entry in proc.iterdir():
        if not entry.name.isdigit() or entry.name == str(postmaster_pid):
            continue
        try:
            fields = _fields_after_name((entry / "stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked: the postmaster's cutime holds it now
        if int(fields[1]) == postmaster_pid:
            total += int(fields[11]) + int(fields[12])
    return total


def cluster_cpu_seconds(postmaster_pid: int, *, proc: Path = _PROC) -> float:
    return cluster_cpu_ticks(postmaster_pid, proc=proc) / os.sysconf("SC_CLK_TCK")
