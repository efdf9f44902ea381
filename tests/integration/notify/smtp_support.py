"""A real SMTP server for the e-mail channel's tests (``aiosmtpd``), plain or STARTTLS.

Its handler answers scripted replies to DATA (``"451 …"`` then ``"250 …"``…) and keeps
every accepted message, parsed.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class RecordingHandler:
    scripted_replies: deque[str] = field(default_factory=deque)
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    tls_used: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        reply = self.scripted_replies.popleft() if self.scripted_replies else "250 Message accepted"
        if reply.startswith("2"):
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.tls_used.append(session.ssl is not None)
        return reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made with the openssl command."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [  # noqa: S607 - openssl from PATH, as any developer machine has it
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def smtp_server(
    handler: RecordingHandler, *, starttls_cert: tuple[Path, Path] | None = None
) -> Iterator[int]:
    """Run the server on 127.0.0.1 (requiring STARTTLS when given a certificate)."""
    port = free_port()
    tls_context = None
    if starttls_cert is not None:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(*map(str, starttls_cert))
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls_context,
        require_starttls=tls_context is not None,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
