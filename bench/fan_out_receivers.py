"""The fan-out benchmark's receivers, in a process of their own (``python -m``).

Healthy receivers answer 204 at once over kept-alive connections, note each arrival
(``webhook-id``, wall-clock time) and verify a sample of signatures with the official
``standardwebhooks`` package. Blackholed ones either never accept a connection (a
listening socket nobody accepts from: once its backlog is full, connects time out) or
accept and never answer. Driven over stdin/stdout, one JSON object per line:

- it prints ``{"healthy": [ports], "never_accept": [ports], "never_answer": [ports]}``;
- it reads ``{"secrets": {port: secret}}``, then ``{"stop": true}``;
- it prints ``{"arrivals": {port: [[webhook_id, time], …]}, "verified": n, "rejected": n}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook

VERIFY_EVERY = 50  # one signature in 50 is checked (checking all would cost more than sending)
NO_ANSWER_SECONDS = 3600.0


class Receiver:
    def __init__(self, *, answer: bool) -> None:
        self.answer = answer
        self.arrivals: list[tuple[str, float]] = []
        self.secret: str | None = None
        self.verified = 0
        self.rejected = 0
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers: dict[str, str] = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not self.answer:
                    await asyncio.sleep(NO_ANSWER_SECONDS)
                    return
                self.arrivals.append((headers.get("webhook-id", ""), time.time()))
                status = b"204 No Content"
                if self.secret is not None and len(self.arrivals) % VERIFY_EVERY == 1:
                    try:
                        Webhook(self.secret).verify(body, headers)
                        self.verified += 1
                    except Exception:  # any verification failure counts as a rejection
                        self.rejected += 1
                        status = b"400 Bad Signature"
                writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client or the benchmark ended the connection
        finally:
            # A silent receiver's handler may still sleep when the process ends; closing
            # its writer then meets a closed loop, which is of no consequence at exit.
            with contextlib.suppress(RuntimeError):
                writer.close()


def never_accepting_socket() -> socket.socket:
    """Listens (so connects are not refused) but never accepts: connects time out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    return listener


async def _lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _say(document: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(document) + b"\n")
    sys.stdout.buffer.flush()


async def main(healthy: int, never_accept: int, never_answer: int) -> None:
    receivers = [Receiver(answer=True) for _ in range(healthy)]
    silent = [Receiver(answer=False) for _ in range(never_answer)]
    for receiver in (*receivers, *silent):
        await receiver.start()
    # Fill each never-accepting socket's backlog so later connects hang.
    closed = [never_accepting_socket() for _ in range(never_accept)]
    fillers = []
    for listener in closed:
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                filler.connect(listener.getsockname())
            fillers.append(filler)
    _say(
        {
            "healthy": [receiver.port for receiver in receivers],
            "never_accept": [int(listener.getsockname()[1]) for listener in closed],
            "never_answer": [receiver.port for receiver in silent],
        }
    )
    by_port = {receiver.port: receiver for receiver in receivers}
    commands = await _lines()
    while line := await commands.readline():
        command = orjson.loads(line)
        if "secrets" in command:
            for port, secret in command["secrets"].items():
                if int(port) in by_port:
                    by_port[int(port)].secret = secret
        if command.get("stop"):
            break
    _say(
        {
            "arrivals": {str(r.port): r.arrivals for r in receivers},
            "verified": sum(r.verified for r in receivers),
            "rejected": sum(r.rejected for r in receivers),
        }
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--healthy", type=int, required=True)
    parser.add_argument("--never-accept", type=int, default=0)
    parser.add_argument("--never-answer", type=int, default=0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.healthy, arguments.never_accept, arguments.never_answer))
