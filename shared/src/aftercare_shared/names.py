"""Service and schema names, written once.

Each service owns the Postgres schema named after it, its dead-letter topic
(``aftercare.<service>.dlq``) and its ``aftercare-<service>`` database application name.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class ServiceName(enum.StrEnum):
    INTAKE = "intake"
    SLA = "sla"
    RELEASES = "releases"
    NOTIFY = "notify"


SERVICE_NAMES: tuple[ServiceName, ...] = tuple(ServiceName)


def schema_of(service: ServiceName) -> str:
    """The Postgres schema a service owns (and keeps its Alembic version table in)."""
    return service.value


def sql_one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK constraint body ``column IN ('a', 'b')`` from a catalog name tuple."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"
