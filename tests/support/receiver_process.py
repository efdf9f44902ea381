"""devkit's webhook receiver in a process of its own, which a test may kill and restart.

``python -m tests.support.receiver_process --port P --record FILE`` answers every webhook
with 200 and appends it to ``FILE`` as one JSON line *before* it answers, so a delivery
notify saw acknowledged is on disk even when the process is then killed with SIGKILL.
A restarted receiver takes the same port and appends to the same file.
:class:`ReceiverProcess` starts it and reads the file back.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from devkit.service_processes import REPO_ROOT, free_port
from devkit.webhook_receiver import ReceivedWebhook, WebhookReceiver


class _RecordedList(list[ReceivedWebhook]):
    """The receiver's list of deliveries, written through to a file as they arrive."""

    def __init__(self, sink: IO[bytes]) -> None:
        super().__init__()
        self._sink = sink

    def append(self, item: ReceivedWebhook) -> None:
        self._sink.write(
            orjson.dumps(
                {
                    "path": item.path,
                    "webhook_id": item.headers.get("webhook-id"),
                    "received_at": item.received_at,
                    "event": item.event,
                }
            )
            + b"\n"
        )
        self._sink.flush()  # in the kernel before the answer: survives a SIGKILL


async def _serve(port: int, record: Path) -> None:
    with record.open("ab", buffering=0) as sink:
        receiver = WebhookReceiver(received=_RecordedList(sink))
        await receiver.start(port)
        await asyncio.Event().wait()


@dataclass(frozen=True)
class Receipt:
    path: str
    webhook_id: str | None
    received_at: float
    event: dict[str, Any]


@dataclass
class ReceiverProcess:
    record: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "tests.support.receiver_process",
                    f"--port={self.port}",
                    f"--record={self.record}",
                ],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_listening(self, within_seconds: float = 30.0) -> None:
        deadline = time.monotonic() + within_seconds
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"webhook receiver exited; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"webhook receiver not listening after {within_seconds}s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def receipts(self) -> list[Receipt]:
        if not self.record.exists():
            return []
        receipts = []
        for line in self.record.read_bytes().splitlines():
            if line:  # a SIGKILL may cut nothing: each line is one write()
                item = orjson.loads(line)
                receipts.append(
                    Receipt(item["path"], item["webhook_id"], item["received_at"], item["event"])
                )
        return receipts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    arguments = parser.parse_args()
    asyncio.run(_serve(arguments.port, arguments.record))


if __name__ == "__main__":
    main()
