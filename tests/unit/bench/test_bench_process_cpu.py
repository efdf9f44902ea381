"""A server's CPU is its whole process tree's: uvicorn's parent with its worker children
(and theirs), each with the children it reaped; processes outside the tree do not count."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.process_cpu import tree_cpu_ticks
from tests.support.fake_proc import write_stat


def test_a_two_worker_server_counts_its_parent_workers_and_their_children(
    tmp_path: Path,
) -> None:
    write_stat(tmp_path, 300, name="python", ppid=1, times=(4, 1, 6, 1))  # uvicorn's parent
    write_stat(tmp_path, 301, name="python", ppid=300, times=(500, 40, 0, 0))  # worker 1
    write_stat(tmp_path, 302, name="python", ppid=300, times=(480, 35, 2, 0))  # worker 2
    write_stat(tmp_path, 303, name="sh (x)", ppid=302, times=(3, 1, 0, 0))  # a worker's child
    write_stat(tmp_path, 400, name="python", ppid=1, times=(900, 900, 900, 900))  # another server
    write_stat(tmp_path, 401, name="python", ppid=400, times=(900, 900, 0, 0))
    (tmp_path / "self").mkdir()  # not a pid: skipped

    assert tree_cpu_ticks(300, proc=tmp_path) == (4 + 1 + 6 + 1) + (500 + 40) + (480 + 35 + 2) + (
        3 + 1
    )
    assert tree_cpu_ticks(303, proc=tmp_path) == 3 + 1


def test_a_one_worker_server_is_its_own_process(tmp_path: Path) -> None:
    write_stat(tmp_path, 10, name="python", ppid=1, times=(70, 9, 0, 0))
    write_stat(tmp_path, 11, name="python", ppid=1, times=(5, 5, 0, 0))

    assert tree_cpu_ticks(10, proc=tmp_path) == 79


def test_a_process_that_is_gone_is_an_error_not_zero(tmp_path: Path) -> None:
    write_stat(tmp_path, 10, name="python", ppid=1, times=(70, 9, 0, 0))

    with pytest.raises(ProcessLookupError):
        tree_cpu_ticks(99, proc=tmp_path)
