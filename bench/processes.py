"""Servers under test as real ``uvicorn`` processes, started the same way for all of them.

Intake, notify and the peer app get identical server settings — one process, one worker,
uvicorn's default event loop and HTTP parser (uvloop and httptools when installed), no
access log — so throughput ratios compare application code, not server tuning. The
two-worker runs of benchmark 1 change only the worker count, for intake and peers alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from devkit.service_processes import UvicornProcess as _UvicornProcess


def uvicorn_settings(workers: int) -> tuple[str, ...]:
    return ("--workers", str(workers), "--no-access-log", "--log-level", "warning")


UVICORN_SETTINGS = uvicorn_settings(1)
"""Same for every server under test; printed with the results."""
TWO_WORKER_SETTINGS = uvicorn_settings(2)
"""The two-worker runs of benchmark 1: uvicorn's parent supervises two worker processes."""


@dataclass
class UvicornProcess(_UvicornProcess):
    uvicorn_args: tuple[str, ...] = UVICORN_SETTINGS
