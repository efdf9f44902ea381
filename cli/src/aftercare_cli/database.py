"""What only the database can tell: which events a consumer applied (its inbox) and how
each service's outbox is doing. Read-only queries on the services' own schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from aftercare_shared.names import ServiceName, schema_of

# Importing aftercare_shared.outbox pulls in the relay (SQLAlchemy, aiokafka): the names
# are imported where used, so every other command starts faster.


@asynccontextmanager
async def connection(libpq_url: str) -> AsyncIterator[Any]:
    connected = await asyncpg.connect(libpq_url, timeout=10)
    try:
        yield connected
    finally:
        await connected.close()


async def applied_event_ids(
    libpq_url: str, service: ServiceName, consumer_group: str, event_ids: Iterable[str]
) -> set[str]:
    """The ids among ``event_ids`` that ``consumer_group`` already has in its inbox."""
    from aftercare_shared.outbox.tables import INBOX_TABLE

    wanted = sorted(set(event_ids))
    if not wanted:
        return set()
    async with connection(libpq_url) as db:
        rows = await db.fetch(
            f'SELECT event_id FROM "{schema_of(service)}"."{INBOX_TABLE}" '  # noqa: S608 - fixed names
            "WHERE consumer = $1 AND event_id = ANY($2::text[])",
            consumer_group,
            wanted,
        )
    return {row["event_id"] for row in rows}


async def forget_applied(
    libpq_url: str, service: ServiceName, consumer_group: str, event_ids: Iterable[str]
) -> int:
    """Delete ``consumer_group``'s inbox rows for ``event_ids`` so the events apply again
    (``aftercare replay --reapply``); returns how many rows went."""
    from aftercare_shared.outbox.tables import INBOX_TABLE

    wanted = sorted(set(event_ids))
    if not wanted:
        return 0
    async with connection(libpq_url) as db:
        status: str = await db.execute(
            f'DELETE FROM "{schema_of(service)}"."{INBOX_TABLE}" '  # noqa: S608 - fixed names
            "WHERE consumer = $1 AND event_id = ANY($2::text[])",
            consumer_group,
            wanted,
        )
    return int(status.rsplit(" ", 1)[-1])


@dataclass(frozen=True)
class OutboxStatus:
    service: ServiceName
    backlog: int
    oldest_unpublished_at: datetime | None
    oldest_unpublished_age_seconds: float | None
    published_total: int
    relay_leader_pid: int | None
    relay_leader_application: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service.value,
            "backlog": self.backlog,
            "oldest_unpublished_at": self.oldest_unpublished_at,
            "oldest_unpublished_age_seconds": self.oldest_unpublished_age_seconds,
            "published_total": self.published_total,
            "relay_leader_pid": self.relay_leader_pid,
            "relay_leader_application": self.relay_leader_application,
        }


_OUTBOX_COUNTS = (
    "SELECT count(*) FILTER (WHERE published_at IS NULL) AS backlog, "
    "count(*) FILTER (WHERE published_at IS NOT NULL) AS published, "
    "min(created_at) FILTER (WHERE published_at IS NULL) AS oldest, "
    "extract(epoch FROM now() - min(created_at) FILTER (WHERE published_at IS NULL)) AS age "
    "FROM {table}"  # a schema and table name this module builds, never input
)


def _lock_halves(key: int) -> tuple[int, int]:
    """A bigint advisory lock as pg_locks shows it: (classid, objid), high and low 32 bits."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


async def outbox_status(libpq_url: str, service: ServiceName) -> OutboxStatus:
    from aftercare_shared.outbox.leader import relay_lock_key
    from aftercare_shared.outbox.tables import OUTBOX_TABLE

    schema = schema_of(service)
    classid, objid = _lock_halves(relay_lock_key(schema))
    async with connection(libpq_url) as db:
        counts = await db.fetchrow(_OUTBOX_COUNTS.format(table=f'"{schema}"."{OUTBOX_TABLE}"'))
        leader = await db.fetchrow(
            "SELECT l.pid, a.application_name FROM pg_locks l "
            "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1",
            classid,
            objid,
        )
    return OutboxStatus(
        service=service,
        backlog=int(counts["backlog"]),
        oldest_unpublished_at=counts["oldest"],
        oldest_unpublished_age_seconds=float(counts["age"]) if counts["age"] is not None else None,
        published_total=int(counts["published"]),
        relay_leader_pid=leader["pid"] if leader else None,
        relay_leader_application=leader["application_name"] if leader else None,
    )
