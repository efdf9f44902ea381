"""Routine checks at scale: 10,000 heartbeat monitors on 1-minute schedules, none checking in.

A fresh intake database holds ``MONITORS`` heartbeats whose deadlines are spread over one
minute; intake's own deadline round (``monitors.rounds.heartbeat_round``, the code the
``intake-monitor-deadlines`` job runs) is driven the way the job's worker drives it: a round,
then another at once when it filled its batch, else a pause of the job's interval. After
a warm-up minute (every monitor's incident is open, so each further miss is one more
occurrence; rounds then run back to back until the warm-up's backlog is drained, at most
four minutes), four measured windows of the same length, in the order A B B A so that a
machine whose load drifts shows it (the two A, or the two B, then differ):

- A: the due monitors alone;
- B: the same, plus ``IDLE_MONITORS`` monitors that are not due (a daily schedule) — the
  cost per due monitor-minute should not move (the timer index only hands out due rows).

The idle monitors are added before the first B, and deleted before the second A, while
the rounds keep running (as the job keeps running while the API changes monitors); that
change is not measured, and each window starts :data:`SETTLE_AFTER_CHANGE_SECONDS` after
it. (An earlier version added them between two windows with no round running, so the first
rounds of its second window found the deadlines of the whole insert waiting: its p99 was
the insert's duration, not the runner's.)

Reported per window and per kind (both A, both B): detection lag (deadline → the round
that recorded the miss and its events committed), p50/p99/max, and this process's CPU
seconds per due monitor-minute (Postgres' own CPU is not included). Bounded: five to nine
minutes in all.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.models import Client, Monitor, MonitorTimer
from aftercare_intake.monitors.rounds import heartbeat_round
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.db import create_session_factory
from bench.report import TableRow, number, ratio_text
from bench.stats import percentile, ratio
from devkit.databases import create_migrated_database, drop_database

MONITORS = 10_000
IDLE_MONITORS = 10_000
WINDOW_SECONDS = 40.0
SETTLE_SECONDS = 240.0
# Rounds run unmeasured this long after the idle monitors are added or deleted.
SETTLE_AFTER_CHANGE_SECONDS = 5.0
IDLE_PREFIX = "idle"
SETTINGS = IntakeSettings.model_fields
INTERVAL_SECONDS = float(SETTINGS["monitor_check_interval_seconds"].default)
BATCH_SIZE = int(SETTINGS["monitor_batch_size"].default)
POLICY = OccurrencePolicy(samples=100, announce_interval=timedelta(seconds=60))


@dataclass(frozen=True, slots=True)
class Window:
    due_monitors: int
    idle_monitors: int
    seconds: float
    misses: int
    cpu_seconds: float
    lags: list[float]

    @property
    def cpu_ms_per_monitor_minute(self) -> float | None:
        return self.cpu_seconds * 1000 / self.misses if self.misses else None

    @staticmethod
    def merged(windows: list[Window]) -> Window:
        """Windows of one kind as one (their misses, CPU and lags together)."""
        return Window(
            windows[0].due_monitors,
            windows[0].idle_monitors,
            sum(window.seconds for window in windows),
            sum(window.misses for window in windows),
            sum(window.cpu_seconds for window in windows),
            [lag for window in windows for lag in window.lags],
        )

    def lag(self, q: float) -> float | None:
        return percentile(self.lags, q)

    def as_json(self) -> dict[str, Any]:
        return {
            "due_monitors": self.due_monitors,
            "idle_monitors": self.idle_monitors,
            "seconds": round(self.seconds, 1),
            "misses": self.misses,
            "misses_per_second": round(self.misses / self.seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_ms_per_monitor_minute": _rounded(self.cpu_ms_per_monitor_minute, 3),
            "lag_p50_seconds": _rounded(self.lag(50), 3),
            "lag_p99_seconds": _rounded(self.lag(99), 3),
            "lag_max_seconds": _rounded(max(self.lags) if self.lags else None, 3),
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True)
class MonitorTimerResult:
    seed_seconds: float
    windows: list[tuple[str, Window]]
    """In the order measured: A, B, B, A."""

    def _of(self, kind: str) -> Window:
        return Window.merged([window for label, window in self.windows if label == kind])

    @property
    def due_only(self) -> Window:
        return self._of("A")

    @property
    def with_idle(self) -> Window:
        return self._of("B")

    def as_json(self) -> dict[str, Any]:
        return {
            "interval_seconds": INTERVAL_SECONDS,
            "batch_size": BATCH_SIZE,
            "seed_seconds": round(self.seed_seconds, 1),
            "windows": [{"kind": label, **window.as_json()} for label, window in self.windows],
            "due_only": self.due_only.as_json(),
            "with_idle": self.with_idle.as_json(),
            "cpu_ratio_with_idle": _rounded(
                ratio(
                    self.with_idle.cpu_ms_per_monitor_minute,
                    self.due_only.cpu_ms_per_monitor_minute,
                ),
                2,
            ),
        }


def _monitor_rows(
    client_id: str, count: int, *, first: datetime, spread: timedelta, daily: bool, prefix: str
) -> list[dict[str, Any]]:
    rows = []
    for index in range(count):
        expected = first + spread * (index / count)
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "client_id": client_id,
                "name": f"{prefix} {index}",
                "slug": f"{prefix}-{index}",
                "kind": "heartbeat",
                "schedule_type": "crontab" if daily else "interval",
                "crontab": "0 3 * * *" if daily else None,
                "interval_value": None if daily else 1,
                "interval_unit": None if daily else "minute",
                "timezone": "UTC",
                "checkin_margin_minutes": 0,
                "max_runtime_minutes": 30,
                "failure_threshold": 1,
                "recovery_threshold": 1,
                "priority": "P3",
                "paused": False,
                "ping_key": uuid.uuid4().hex,
                "state": "new",
                "consecutive_failures": 0,
                "consecutive_successes": 0,
                "incident_count": 0,
                "next_expected_at": expected,
                "created_at": first - timedelta(minutes=1),
                "updated_at": first - timedelta(minutes=1),
            }
        )
    return rows


async def _seed(
    sessions: async_sessionmaker[AsyncSession],
    client_id: str,
    count: int,
    *,
    first: datetime,
    spread: timedelta,
    daily: bool,
    prefix: str,
) -> None:
    rows = _monitor_rows(client_id, count, first=first, spread=spread, daily=daily, prefix=prefix)
    async with sessions() as session:
        for start in range(0, len(rows), 2_000):
            chunk = rows[start : start + 2_000]
            await session.execute(insert(Monitor), chunk)
            await session.execute(
                insert(MonitorTimer),
                [{"monitor_id": row["id"], "due_at": row["next_expected_at"]} for row in chunk],
            )
        await session.commit()


async def _due_deadlines(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> list[datetime]:
    """What the next round will take (one runner, same order): read outside the measured CPU."""
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(MonitorTimer.due_at)
                    .where(MonitorTimer.due_at <= now)
                    .order_by(MonitorTimer.due_at)
                    .limit(BATCH_SIZE)
                )
            ).all()
        )


async def _run(
    sessions: async_sessionmaker[AsyncSession],
    *,
    seconds: float,
    due: int,
    idle: int,
    alongside: Awaitable[None] | None = None,
) -> Window:
    """The job's worker loop for ``seconds``: rounds, full ones back to back.

    With ``alongside`` (a change of the monitors), the rounds go on until it is done too."""
    lags: list[float] = []
    cpu = 0.0
    misses = 0
    change = asyncio.ensure_future(alongside) if alongside is not None else None
    started = time.monotonic()
    while time.monotonic() - started < seconds or (change is not None and not change.done()):
        now = datetime.now(UTC)
        deadlines = await _due_deadlines(sessions, now)
        cpu_before = time.process_time()
        handled = await heartbeat_round(sessions, now=now, limit=BATCH_SIZE, policy=POLICY)
        cpu += time.process_time() - cpu_before
        committed = datetime.now(UTC)
        misses += handled
        lags.extend((committed - deadline).total_seconds() for deadline in deadlines[:handled])
        if handled < BATCH_SIZE:
            await asyncio.sleep(INTERVAL_SECONDS)
    if change is not None:
        await change
    return Window(due, idle, time.monotonic() - started, misses, cpu, lags)


async def _delete_idle(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        # Their timers go with them (ON DELETE CASCADE).
        await session.execute(delete(Monitor).where(Monitor.slug.startswith(f"{IDLE_PREFIX}-")))
        await session.commit()


async def _settle(sessions: async_sessionmaker[AsyncSession]) -> float:
    """Rounds back to back until one is not full (at most ``SETTLE_SECONDS``).

    Opening an incident files a new ticket one by one (the costly first miss), so the
    warm-up minute can leave a backlog; measuring on top of it would time the queue of
    first misses instead of the steady state (every incident open), which is what the
    windows are meant to measure."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_SECONDS:
        now = datetime.now(UTC)
        if await heartbeat_round(sessions, now=now, limit=BATCH_SIZE, policy=POLICY) < BATCH_SIZE:
            break
    return time.monotonic() - started


async def measure_monitor_timers(
    *, monitors: int = MONITORS, idle_monitors: int = IDLE_MONITORS, window: float = WINDOW_SECONDS
) -> MonitorTimerResult:
    url = await create_migrated_database("intake", prefix="benchmon")
    engine = create_async_engine(url, pool_size=4)
    try:
        sessions = create_session_factory(engine)
        seeding = time.perf_counter()
        client_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        async with sessions() as session:
            session.add(Client(id=client_id, name="bench", created_at=now, updated_at=now))
            await session.commit()
        # Deadlines spread over the coming minute: every second, 1/60 of them fall due.
        await _seed(
            sessions,
            client_id,
            monitors,
            first=now,
            spread=timedelta(minutes=1),
            daily=False,
            prefix="job",
        )
        seed_seconds = time.perf_counter() - seeding
        print(f"bench: monitors: {monitors} seeded in {seed_seconds:.1f} s; warm-up minute…")
        await _run(sessions, seconds=60.0, due=monitors, idle=0)  # every incident opens
        settle_seconds = await _settle(sessions)
        if settle_seconds >= SETTLE_SECONDS:
            print(
                f"bench: monitors: the warm-up backlog was not drained in {SETTLE_SECONDS:.0f} s:"
                " window 1 measures what is left of it (a machine too busy for this bench)"
            )
        else:
            print(f"bench: monitors: warm-up backlog drained in {settle_seconds:.1f} s more")
        windows = [("A", await _run(sessions, seconds=window, due=monitors, idle=0))]
        adding = _seed(
            sessions,
            client_id,
            idle_monitors,
            first=now + timedelta(days=1),
            spread=timedelta(hours=1),
            daily=True,
            prefix=IDLE_PREFIX,
        )
        await _run(
            sessions,
            seconds=SETTLE_AFTER_CHANGE_SECONDS,
            due=monitors,
            idle=idle_monitors,
            alongside=adding,
        )
        for _ in range(2):
            windows.append(
                ("B", await _run(sessions, seconds=window, due=monitors, idle=idle_monitors))
            )
        await _run(
            sessions,
            seconds=SETTLE_AFTER_CHANGE_SECONDS,
            due=monitors,
            idle=0,
            alongside=_delete_idle(sessions),
        )
        windows.append(("A", await _run(sessions, seconds=window, due=monitors, idle=0)))
    finally:
        await engine.dispose()
        await drop_database(url)
    return MonitorTimerResult(seed_seconds, windows)


def monitor_timer_rows(result: MonitorTimerResult) -> list[TableRow]:
    name = "11 routine checks"
    rows: list[TableRow] = []
    for position, (label, window) in enumerate(result.windows, start=1):
        shape = f"{window.due_monitors} due x 1 min" + (
            f" + {window.idle_monitors} not due" if window.idle_monitors else ""
        )
        rows += [
            TableRow(
                name,
                f"window {position} ({label}: {shape}): detection lag p50 / p99 s",
                f"{number(window.lag(50), 3)} / {number(window.lag(99), 3)}",
            ),
            TableRow(
                name,
                f"window {position} ({label}): CPU ms per monitor-minute (this process)",
                number(window.cpu_ms_per_monitor_minute, 3),
            ),
        ]
    for label, window in (("A, due only", result.due_only), ("B, + idle", result.with_idle)):
        rows += [
            TableRow(name, f"detection lag p99 s (both {label})", number(window.lag(99), 3)),
            TableRow(name, f"detection lag p50 s (both {label})", number(window.lag(50), 3)),
            TableRow(
                name,
                f"CPU ms per monitor-minute (both {label}; this process, not Postgres)",
                number(window.cpu_ms_per_monitor_minute, 3),
            ),
        ]
    rows.append(
        TableRow(
            name,
            "CPU per due monitor-minute, with idle / without",
            ratio_text(
                ratio(
                    result.with_idle.cpu_ms_per_monitor_minute,
                    result.due_only.cpu_ms_per_monitor_minute,
                )
            ),
        )
    )
    return rows
