"""`make test` runs the tests with Kafkas of their own beside the rest: both run at once,
the second one's output is shown after the first, and either one failing fails the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deploy.devstack import stack_runner
from deploy.devstack.stack_runner import run_side_by_side

PYTHON = sys.executable


def _script(code: str) -> list[str]:
    return [PYTHON, "-c", code]


def test_both_run_at_once_and_the_second_ones_output_follows(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "beside-started"
    # The first command waits for a file only the second one writes: run one after the
    # other, this would never end.
    first = _script(
        "import pathlib, time\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "deadline = time.monotonic() + 20\n"
        "while not p.exists():\n"
        "    assert time.monotonic() < deadline, 'not run at the same time'\n"
        "    time.sleep(0.01)\n"
        "print('first', 'done')\n"
    )
    second = _script(
        f"import pathlib; pathlib.Path({str(marker)!r}).touch(); print('second', 'done')"
    )
    code = run_side_by_side(first, second, {"PATH": "/usr/bin:/bin"}, tmp_path / "logs")
    out = capfd.readouterr().out
    assert code == 0
    assert "second done" in (tmp_path / "logs" / "pytest-beside.log").read_text()
    assert out.index("first done") < out.index("second done")


@pytest.mark.parametrize(
    ("first_exit", "second_exit", "expected"), [(0, 3, 3), (1, 0, 1), (1, 3, 1)]
)
def test_either_failing_fails_the_run(
    tmp_path: Path, first_exit: int, second_exit: int, expected: int
) -> None:
    code = run_side_by_side(
        _script(f"raise SystemExit({first_exit})"),
        _script(f"raise SystemExit({second_exit})"),
        {"PATH": "/usr/bin:/bin"},
        tmp_path,
    )
    assert code == expected


def test_the_second_one_is_stopped_when_the_run_is_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    second = _script(
        f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); "
        "time.sleep(600)"
    )
    first = _script(
        "import pathlib, time\n"
        f"p = pathlib.Path({str(pid_file)!r})\n"
        "while not p.exists(): time.sleep(0.01)\n"
    )

    def interrupted(*_args: object) -> int:
        raise KeyboardInterrupt  # Ctrl-C while waiting for the second one

    monkeypatch.setattr(stack_runner, "_finish_beside", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_side_by_side(first, second, {"PATH": "/usr/bin:/bin"}, tmp_path)
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists(), "the second run outlived the interrupted one"
