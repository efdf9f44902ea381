"""Background workers (outbox relay, consumers, periodic jobs) run beside the HTTP server.

A supervisor restarts a worker that dies unexpectedly, with backoff, so one bad moment
(a dropped connection) never silently stops a service's event flow.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import structlog

from aftercare_shared.observability.repeated_failures import RepeatedFailureLog

logger = structlog.get_logger(__name__)

MAX_RESTART_BACKOFF_SECONDS = 30.0


class BackgroundWorker(Protocol):
    name: str

    async def run(self) -> None:
        """Work until ``stop()`` is called."""

    async def stop(self) -> None:
        """Ask ``run()`` to finish its current unit of work and return."""


class WorkerSupervisor:
    def __init__(self, workers: list[BackgroundWorker]) -> None:
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._supervise(worker), name=f"worker:{worker.name}")
            for worker in self._workers
        ]

    async def stop(self, grace_seconds: float = 15.0) -> None:
        self._stopping = True
        await asyncio.gather(*(worker.stop() for worker in self._workers), return_exceptions=True)
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
        for task in pending:
            logger.warning("worker did not stop in time; cancelling", task=task.get_name())
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _supervise(self, worker: BackgroundWorker) -> None:
        backoff = 0.5
        failures = RepeatedFailureLog(logger.bind(worker=worker.name))
        while not self._stopping:
            try:
                await worker.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures.exception("worker crashed; restarting", error, backoff=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_RESTART_BACKOFF_SECONDS)
