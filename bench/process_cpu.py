"""CPU time of a process together with every process under it, read from ``/proc``.

A server may be a tree: uvicorn with ``--workers 2`` is a supervising parent and two worker
children doing the work; Postgres is a postmaster and one backend per connection. The
tree's CPU is the root's own time and its reaped children's (``cutime``/``cstime``, where a
child's time goes when it exits and is waited for) plus each live descendant's own time
and that of the children it reaped. Measured before and after a load, the difference is
what the load cost the whole tree, whichever children came and went.

Children are found by scanning ``/proc`` for their ``ppid``: ``/proc/<pid>/task/<tid>/
children`` needs a kernel built with ``CONFIG_PROC_CHILDREN``, which not every one is.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _fields_after_name(stat_text: str) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return stat_text[stat_text.rindex(")") + 2 :].split()


def parent_pid(pid: int, *, proc: Path = _PROC) -> int:
    """``ppid`` from ``/proc/<pid>/stat``."""
    return int(_fields_after_name((proc / str(pid) / "stat").read_text())[1])


def _stat_fields(proc: Path) -> dict[int, list[str]]:
    """Every live process's stat fields (after the name), keyed by pid."""
    fields: dict[int, list[str]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields[int(entry.name)] = _fields_after_name((entry / "stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked: its parent's cutime holds it now
    return fields


def tree_cpu_ticks(root_pid: int, *, proc: Path = _PROC) -> int:
    """utime + stime + cutime + cstime of ``root_pid`` and of every live descendant."""
    fields = _stat_fields(proc)
    if root_pid not in fields:
        raise ProcessLookupError(f"no process {root_pid} under {proc}")
    children: dict[int, list[int]] = {}
    for pid, values in fields.items():
        children.setdefault(int(values[1]), []).append(pid)
    total = 0
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        # After the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
        total += sum(int(value) for value in fields[pid][11:15])
        pending += children.get(pid, [])
    return total


def tree_cpu_seconds(root_pid: int, *, proc: Path = _PROC) -> float:
    return tree_cpu_ticks(root_pid, proc=proc) / os.sysconf("SC_CLK_TCK")
