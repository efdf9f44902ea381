"""Servers under test as real ``uvicorn`` processes, started the same way for all of them.

Intake, notify and the peer app get identical server settings — one process, one worker,
uvicorn's default event loop and HTTP parser (uvloop and httptools when installed), no
access log — so throughput ratios compare application code, not server tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

from devkit.service_processes import UvicornProcess as _UvicornProcess

UVICORN_SETTINGS = ("--workers", "1", "--no-access-log", "--log-level", "warning")
"""Same for every server under test; printed with the results."""


@dataclass
class UvicornProcess(_UvicornProcess):
    uvicorn_args: tuple[str, ...] = UVICORN_SETTINGS
