"""Local HTTP(S) servers uptime probes are pointed at: answering 200 or 500, redirecting,
hanging, resetting the connection; and a TLS certificate that is about to expire."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Target:
    """One server; ``hits`` counts requests per path."""

    base_url: str
    hits: Counter[str] = field(default_factory=Counter)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server stops: hanging answers end then."""


async def _handle(
    target: Target, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    path = head.split(b" ", 2)[1].decode()
    target.hits[path] += 1
    if path.startswith("/hang"):
        await target.closing.wait()
        writer.close()
        return
    if path.startswith("/reset"):
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return
    status, body, extra = 200, b"all systems healthy", b""
    if path.startswith("/error"):
        status, body = 500, b"database down"
    elif path.startswith("/redirect"):
        status, body, extra = 302, b"", b"Location: /ok\r\n"
    writer.write(
        b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s"
        % (status, len(body), extra, body)
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


@asynccontextmanager
async def serving(*, tls: ssl.SSLContext | None = None) -> AsyncIterator[Target]:
    target = Target(base_url="")

    async def _handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _handle(target, reader, writer)

    server = await asyncio.start_server(_handler, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    target.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        yield target
    finally:
        target.closing.set()
        server.close()
        await asyncio.sleep(0)


@dataclass(frozen=True)
class ExpiringCertificate:
    certificate_file: Path
    key_file: Path
    expires_at: datetime

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate_file, self.key_file)
        return context


def expiring_certificate(directory: Path, *, days_left: int) -> ExpiringCertificate:
    """A self-signed certificate for 127.0.0.1 that expires in ``days_left`` days (it is
    its own CA, so a probe trusts it when given it as its CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    expires_at = (now + timedelta(days=days_left)).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(expires_at)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file = directory / "certificate.pem"
    key_file = directory / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ExpiringCertificate(certificate_file, key_file, expires_at)
