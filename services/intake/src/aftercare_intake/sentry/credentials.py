"""Which public key an SDK presents, from every place Sentry SDKs put it.

SDKs authenticate with the DSN's public key, in one or more of:

- the ``X-Sentry-Auth`` header (or ``Authorization``), ``Sentry sentry_key=…,
  sentry_version=7, sentry_client=…`` — server SDKs;
- the ``sentry_key`` query parameter — browser SDKs, which avoid a CORS preflight;
- the ``dsn`` in the envelope header.

Whatever is present must name the same key, and a DSN must name the project of the URL.
A DSN's public key is ``[A-Za-z0-9]+`` and its project id a positive integer, as SDK DSN
parsers require.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from aftercare_intake.errors import (
    IngestCredentialsConflictError,
    IngestCredentialsMissingError,
    ProjectMismatchError,
)

PUBLIC_KEY = re.compile(r"[A-Za-z0-9]{1,64}")


@dataclass(frozen=True, slots=True)
class Dsn:
    public_key: str
    project_id: int


def key_from_auth_header(value: str | None) -> str | None:
    """``sentry_key`` of an ``X-Sentry-Auth: Sentry k=v, …`` header, if there is one."""
    if not value:
        return None
    scheme, _, parameters = value.strip().partition(" ")
    if scheme.lower() != "sentry":
        return None
    for parameter in parameters.split(","):
        name, _, found = parameter.strip().partition("=")
        if name.strip() == "sentry_key":
            return _checked_key(found.strip(), where="X-Sentry-Auth")
    raise IngestCredentialsMissingError("The X-Sentry-Auth header has no sentry_key.")


def key_from_query(value: str | None) -> str | None:
    return None if value is None else _checked_key(value, where="sentry_key")


def parse_dsn(value: object) -> Dsn:
    """The public key and project id of a DSN ``scheme://key@host[:port][/path]/project``."""
    if not isinstance(value, str):
        raise IngestCredentialsMissingError("The envelope's dsn is not a string.")
    parts = urlsplit(value.strip())
    project = parts.path.rstrip("/").rpartition("/")[2]
    if parts.scheme not in ("http", "https") or not parts.username or not project.isdigit():
        raise IngestCredentialsMissingError("The envelope's dsn is not a Sentry DSN.")
    return Dsn(
        public_key=_checked_key(parts.username, where="the envelope's dsn"),
        project_id=int(project),
    )


def agreed_key(*, project_id: int, header: str | None, query: str | None, dsn: object) -> str:
    """The one public key every credential present names; refuses none, two or a foreign DSN."""
    presented = [key for key in (header, query) if key is not None]
    if dsn is not None:
        parsed = parse_dsn(dsn)
        if parsed.project_id != project_id:
            raise ProjectMismatchError("The envelope's dsn names another project than the URL.")
        presented.append(parsed.public_key)
    if not presented:
        raise IngestCredentialsMissingError(
            "Send the DSN's public key: X-Sentry-Auth, ?sentry_key= or the envelope's dsn."
        )
    if len(set(presented)) > 1:
        raise IngestCredentialsConflictError("The request names two different public keys.")
    return presented[0]


def _checked_key(value: str, *, where: str) -> str:
    if not PUBLIC_KEY.fullmatch(value):
        raise IngestCredentialsMissingError(f"The public key in {where} is not a DSN key.")
    return value


def format_dsn(base_url: str, *, public_key: str, project_id: int) -> str:
    """``scheme://<public key>@host[:port][/path]/<project id>`` for intake at ``base_url``."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{public_key}@{parts.netloc}{parts.path.rstrip('/')}/{project_id}"
