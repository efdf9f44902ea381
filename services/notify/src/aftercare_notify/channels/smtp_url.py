"""``NOTIFY_SMTP_URL``: where the e-mail channel sends, and with which credentials."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SMTP_SCHEMES = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpServer:
    """``smtp://[user:pass@]host[:port]`` or ``smtps://…`` (TLS from the first byte)."""
    parts = urlsplit(url)
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ValueError("must be smtp://[user:pass@]host[:port] or smtps://…")
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or SMTP_SCHEMES[parts.scheme],
        implicit_tls=parts.scheme == "smtps",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
