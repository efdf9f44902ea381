"""Monitor rows in SQL: the durable timers and their claims, pages, the uptime period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from aftercare_intake.models import (
    SCHEMA,
    Monitor,
    MonitorCheckIn,
    MonitorIncident,
    MonitorProbe,
    MonitorTimer,
)
from aftercare_shared.events.catalog import MonitorKind
from aftercare_shared.pagination import CursorPosition, after_position


async def arm(session: AsyncSession, *, monitor_id: str, due_at: datetime | None) -> None:
    """Set the monitor's one timer to ``due_at``; None removes it (paused, nothing due)."""
    if due_at is None:
        await session.execute(delete(MonitorTimer).where(MonitorTimer.monitor_id == monitor_id))
        return
    statement = insert(MonitorTimer).values(monitor_id=monitor_id, due_at=due_at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[MonitorTimer.monitor_id], set_={"due_at": statement.excluded.due_at}
        )
    )


async def arm_many(session: AsyncSession, dues: dict[str, datetime | None]) -> None:
    """:func:`arm` for a round's monitors in two statements (a round re-arms hundreds)."""
    cleared = [monitor_id for monitor_id, due_at in dues.items() if due_at is None]
    armed = [
        {"monitor_id": monitor_id, "due_at": due_at}
        for monitor_id, due_at in dues.items()
        if due_at is not None
    ]
    if cleared:
        await session.execute(delete(MonitorTimer).where(MonitorTimer.monitor_id.in_(cleared)))
    if armed:
        # executemany parameters: compiled once and cached, the rows sent as one batch.
        statement = insert(MonitorTimer)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[MonitorTimer.monitor_id], set_={"due_at": statement.excluded.due_at}
            ),
            armed,
        )


async def add_check_ins(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert a round's timer check-ins (misses, timeouts) as one batch: one prepared INSERT,
    compiled once, whose rows asyncpg sends together (executemany)."""
    if rows:
        await session.execute(insert(MonitorCheckIn), rows)


# The state columns a deadline round changes, written for all its monitors in one UPDATE.
_SAVE_ROUND_STATE = text(
    f"""
    UPDATE {SCHEMA}.monitors AS m
    SET state = r.state, consecutive_failures = r.consecutive_failures,
        consecutive_successes = r.consecutive_successes, failing_since = r.failing_since,
        incident_count = r.incident_count, open_incident_id = r.open_incident_id,
        open_ticket_id = r.open_ticket_id, next_expected_at = r.next_expected_at,
        run_started_at = r.run_started_at, run_check_in_id = r.run_check_in_id
    FROM unnest(
        CAST(:ids AS text[]), CAST(:states AS text[]), CAST(:failures AS integer[]),
        CAST(:successes AS integer[]), CAST(:failing_since AS timestamptz[]),
        CAST(:incident_counts AS integer[]), CAST(:incident_ids AS text[]),
        CAST(:ticket_ids AS text[]), CAST(:next_expected AS timestamptz[]),
        CAST(:run_started AS timestamptz[]), CAST(:run_check_in_ids AS text[])
    ) AS r (id, state, consecutive_failures, consecutive_successes, failing_since,
            incident_count, open_incident_id, open_ticket_id, next_expected_at,
            run_started_at, run_check_in_id)
    WHERE m.id = r.id
    """  # noqa: S608 - formats in constants only (schema)
)


async def save_round_state(session: AsyncSession, monitors: Sequence[Monitor]) -> None:
    """Write the state a deadline round left on ``monitors`` (locked by its claim) in one
    statement, and take them out of the session so its flush does not write them again
    one UPDATE each."""
    if not monitors:
        return
    parameters = {
        "ids": [m.id for m in monitors],
        "states": [m.state for m in monitors],
        "failures": [m.consecutive_failures for m in monitors],
        "successes": [m.consecutive_successes for m in monitors],
        "failing_since": [m.failing_since for m in monitors],
        "incident_counts": [m.incident_count for m in monitors],
        "incident_ids": [m.open_incident_id for m in monitors],
        "ticket_ids": [m.open_ticket_id for m in monitors],
        "next_expected": [m.next_expected_at for m in monitors],
        "run_started": [m.run_started_at for m in monitors],
        "run_check_in_ids": [m.run_check_in_id for m in monitors],
    }
    for monitor in monitors:
        session.expunge(monitor)
    await session.execute(_SAVE_ROUND_STATE, parameters)


async def claim_due(
    session: AsyncSession, *, kind: MonitorKind, now: datetime, limit: int
) -> list[tuple[MonitorTimer, Monitor]]:
    """Due timers of ``kind`` with their monitors, both locked; rows another transaction
    holds (a replica's round, a check-in being applied) are skipped, never waited for."""
    statement = (
        select(MonitorTimer, Monitor)
        .join(Monitor, Monitor.id == MonitorTimer.monitor_id)
        .where(MonitorTimer.due_at <= now, Monitor.kind == kind)
        .order_by(MonitorTimer.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(timer, monitor) for timer, monitor in (await session.execute(statement)).all()]


async def lock_monitor(session: AsyncSession, monitor_id: str) -> Monitor | None:
    return await session.scalar(select(Monitor).where(Monitor.id == monitor_id).with_for_update())


async def monitor_by_ping_key(session: AsyncSession, ping_key: str) -> Monitor | None:
    return await session.scalar(
        select(Monitor).where(Monitor.ping_key == ping_key).with_for_update()
    )


async def monitor_by_slug(
    session: AsyncSession, *, client_id: str, slug: str, lock: bool = True
) -> Monitor | None:
    statement = select(Monitor).where(Monitor.client_id == client_id, Monitor.slug == slug)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def list_monitors(
    session: AsyncSession, *, client_id: str | None, after: CursorPosition | None, limit: int
) -> list[Monitor]:
    statement = select(Monitor)
    if client_id is not None:
        statement = statement.where(Monitor.client_id == client_id)
    position = after_position([Monitor.created_at, Monitor.id], after, descending=True)
    if position is not None:
        statement = statement.where(position)
    statement = statement.order_by(Monitor.created_at.desc(), Monitor.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


async def latest_check_ins(
    session: AsyncSession, *, monitor_id: str, limit: int
) -> list[MonitorCheckIn]:
    statement = (
        select(MonitorCheckIn)
        .where(MonitorCheckIn.monitor_id == monitor_id)
        .order_by(MonitorCheckIn.created_at.desc(), MonitorCheckIn.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())


async def latest_check_ins_of(
    session: AsyncSession, *, monitor_ids: Sequence[str], limit: int
) -> dict[str, list[MonitorCheckIn]]:
    """:func:`latest_check_ins` for a page of monitors in one statement: a LATERAL
    subquery reads each monitor's newest ``limit`` off ``ix_monitor_check_ins_page``."""
    if not monitor_ids:
        return {}
    newest = (
        select(MonitorCheckIn)
        .where(MonitorCheckIn.monitor_id == Monitor.id)
        .order_by(MonitorCheckIn.created_at.desc(), MonitorCheckIn.id.desc())
        .limit(limit)
        .lateral("newest")
    )
    check_in = aliased(MonitorCheckIn, newest)
    statement = (
        select(check_in)
        .select_from(Monitor)
        .join(newest, true())
        .where(Monitor.id.in_(list(monitor_ids)))
        .order_by(check_in.monitor_id, check_in.created_at.desc(), check_in.id.desc())
    )
    found: dict[str, list[MonitorCheckIn]] = {monitor_id: [] for monitor_id in monitor_ids}
    for row in (await session.scalars(statement)).all():
        found[row.monitor_id].append(row)
    return found


async def page_check_ins(
    session: AsyncSession, *, monitor_id: str, after: CursorPosition | None, limit: int
) -> list[MonitorCheckIn]:
    statement = select(MonitorCheckIn).where(MonitorCheckIn.monitor_id == monitor_id)
    position = after_position(
        [MonitorCheckIn.created_at, MonitorCheckIn.id], after, descending=True
    )
    if position is not None:
        statement = statement.where(position)
    statement = statement.order_by(
        MonitorCheckIn.created_at.desc(), MonitorCheckIn.id.desc()
    ).limit(limit)
    return list((await session.scalars(statement)).all())


async def page_probes(
    session: AsyncSession, *, monitor_id: str, after: CursorPosition | None, limit: int
) -> list[MonitorProbe]:
    statement = select(MonitorProbe).where(MonitorProbe.monitor_id == monitor_id)
    position = after_position([MonitorProbe.started_at, MonitorProbe.id], after, descending=True)
    if position is not None:
        statement = statement.where(position)
    statement = statement.order_by(MonitorProbe.started_at.desc(), MonitorProbe.id.desc()).limit(
        limit
    )
    return list((await session.scalars(statement)).all())


async def incidents_overlapping(
    session: AsyncSession, *, monitor_id: str, start: datetime, end: datetime
) -> list[MonitorIncident]:
    statement = (
        select(MonitorIncident)
        .where(
            MonitorIncident.monitor_id == monitor_id,
            MonitorIncident.started_at < end,
            or_(MonitorIncident.ended_at.is_(None), MonitorIncident.ended_at > start),
        )
        .order_by(MonitorIncident.started_at)
    )
    return list((await session.scalars(statement)).all())


async def probe_counts(
    session: AsyncSession, *, monitor_id: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """(probes, probes that found the site up) in the period."""
    in_period = and_(
        MonitorProbe.monitor_id == monitor_id,
        MonitorProbe.started_at >= start,
        MonitorProbe.started_at < end,
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(MonitorProbe.outcome == "up"),
            ).where(in_period)
        )
    ).one()
    return int(row[0]), int(row[1])
