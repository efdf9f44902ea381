"""Run ASGI apps as real uvicorn processes, the way ``make up`` runs the services.

The e2e tests and the benchmarks both start servers through :class:`UvicornProcess`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class UvicornProcess:
    name: str
    app_factory: str
    """``module:function`` returning the ASGI app (uvicorn ``--factory``)."""
    log_path: Path
    ready_path: str = "/readyz"
    port: int = field(default_factory=free_port)
    uvicorn_args: tuple[str, ...] = ("--no-access-log",)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    self.app_factory,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.uvicorn_args,
                ],
                cwd=REPO_ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def wait_ready(self, deadline_seconds: float = 180.0) -> None:
        # Generous: on a busy 2-core machine four services importing at once take over a
        # minute to answer (measured 85-100 s at load average 17); a healthy start is ~5 s.
        deadline = time.monotonic() + deadline_seconds
        async with httpx.AsyncClient(timeout=3.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
                try:
                    if (await client.get(self.url + self.ready_path)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready in {deadline_seconds}s:\n{self.log_tail()}")

    def stop(self, grace_seconds: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after the grace period; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)


def service_process(service: str, log_path: Path) -> UvicornProcess:
    """One of the four services, as ``make up`` starts it."""
    return UvicornProcess(
        name=service, app_factory=f"aftercare_{service}.app:create_app", log_path=log_path
    )
