"""Postgres's CPU over a load run, for "Postgres CPU per report" (issue 13).

Postgres is many processes: the postmaster and one backend per connection, plus its
background workers. A backend that exits within the run has its CPU added to the
postmaster's ``cutime``/``cstime`` when the postmaster reaps it, so the cluster's total is
the postmaster's process tree (``bench/process_cpu.py``): measured before and after a run,
the difference is what the run cost Postgres, whichever backends came and went.
"""

from __future__ import annotations

from pathlib import Path

from bench.process_cpu import parent_pid, tree_cpu_seconds, tree_cpu_ticks

_PROC = Path("/proc")

__all__ = ["cluster_cpu_seconds", "cluster_cpu_ticks", "parent_pid"]


def cluster_cpu_ticks(postmaster_pid: int, *, proc: Path = _PROC) -> int:
    """The postmaster's utime + stime + cutime + cstime, plus each live backend's."""
    return tree_cpu_ticks(postmaster_pid, proc=proc)


def cluster_cpu_seconds(postmaster_pid: int, *, proc: Path = _PROC) -> float:
    return tree_cpu_seconds(postmaster_pid, proc=proc)
