"""Memory and CPU time of a server process, read from ``/proc`` (Linux only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Footprint:
    rss_mib: float
    cpu_seconds: float
    """User plus system time since the process started."""


def parse_rss_kib(status_text: str) -> int:
    """``VmRSS`` from ``/proc/<pid>/status`` (the kernel reports it in kB, i.e. KiB)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS line: the process is a zombie or not a user process")


def parse_cpu_ticks(stat_text: str) -> int:
    """``utime + stime`` in clock ticks from ``/proc/<pid>/stat``.

    The command name (field 2) is in parentheses and may hold spaces or parentheses
    itself, so fields are counted from the last ``)``: utime and stime are fields 14 and
    15 of the line, i.e. the 12th and 13th after the name.
    """
    after_name = stat_text[stat_text.rindex(")") + 2 :].split()
    return int(after_name[11]) + int(after_name[12])


def read_footprint(pid: int, *, proc: Path = Path("/proc")) -> Footprint:
    status = (proc / str(pid) / "status").read_text()
    stat = (proc / str(pid) / "stat").read_text()
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    return Footprint(
        rss_mib=parse_rss_kib(status) / 1024,
        cpu_seconds=parse_cpu_ticks(stat) / ticks_per_second,
    )
