"""A fake ``/proc`` for the bench's CPU readers: one ``stat`` file per process."""

from __future__ import annotations

from pathlib import Path


def write_stat(
    proc: Path, pid: int, *, name: str, ppid: int, times: tuple[int, int, int, int]
) -> None:
    """``/proc/<pid>/stat`` with this parent and (utime, stime, cutime, cstime) ticks."""
    utime, stime, cutime, cstime = times
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime …
    fields = [str(ppid), "1", "1", "0", "-1", "0", "0", "0", "0", "0"]
    text = f"{pid} ({name}) S {' '.join(fields)} {utime} {stime} {cutime} {cstime} 20 0 1\n"
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(text)
