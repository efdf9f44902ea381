"""The Postgres cluster's CPU from a /proc tree: the postmaster's own and reaped children's
time plus every live child's; other processes do not count."""

from __future__ import annotations

from pathlib import Path

from bench.postgres_cpu import cluster_cpu_ticks, parent_pid
from tests.support.fake_proc import write_stat


def test_the_cluster_counts_its_postmaster_reaped_and_live_backends_only(tmp_path: Path) -> None:
    write_stat(tmp_path, 100, name="postgres", ppid=1, times=(5, 3, 40, 2))
    write_stat(tmp_path, 101, name="postgres: bench (idle)", ppid=100, times=(7, 1, 0, 0))
    write_stat(tmp_path, 102, name="postgres: walwriter", ppid=100, times=(2, 2, 0, 0))
    write_stat(tmp_path, 200, name="python (x) y", ppid=1, times=(900, 900, 900, 900))
    (tmp_path / "self").mkdir()  # not a pid: skipped

    assert cluster_cpu_ticks(100, proc=tmp_path) == (5 + 3 + 40 + 2) + (7 + 1) + (2 + 2)
    assert parent_pid(101, proc=tmp_path) == 100
    assert parent_pid(200, proc=tmp_path) == 1
