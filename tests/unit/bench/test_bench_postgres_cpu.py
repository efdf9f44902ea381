"""The Postgres cluster's CPU from a /proc tree: the postmaster's own and reaped children's
time plus every live child's; other processes do not count."""

from __future__ import annotations

from pathlib import Path

from bench.postgres_cpu import cluster_cpu_ticks, parent_pid


def _stat(proc: Path, pid: int, *, name: str, ppid: int, times: tuple[int, int, int, int]) -> None:
    utime, stime, cutime, cstime = times
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime …
    fields = [str(ppid), "1", "1", "0", "-1", "0", "0", "0", "0", "0"]
    text = f"{pid} ({name}) S {' '.join(fields)} {utime} {stime} {cutime} {cstime} 20 0 1\n"
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(text)


def test_the_cluster_counts_its_postmaster_reaped_and_live_backends_only(tmp_path: Path) -> None:
    _stat(tmp_path, 100, name="postgres", ppid=1, times=(5, 3, 40, 2))
    _stat(tmp_path, 101, name="postgres: bench (idle)", ppid=100, times=(7, 1, 0, 0))
    _stat(tmp_path, 102, name="postgres: walwriter", ppid=100, times=(2, 2, 0, 0))
    _stat(tmp_path, 200, name="python (x) y", ppid=1, times=(900, 900, 900, 900))
    (tmp_path / "self").mkdir()  # not a pid: skipped

    assert cluster_cpu_ticks(100, proc=tmp_path) == (5 + 3 + 40 + 2) + (7 + 1) + (2 + 2)
    assert parent_pid(101, proc=tmp_path) == 100
    assert parent_pid(200, proc=tmp_path) == 1
