"""SLA timers at scale: breach lag and timer-worker CPU with 10,000 and 1,000,000 open clocks.

A fresh sla database is bulk-loaded (``generate_series``, one statement per table) with
open resolution clocks whose due times are spread over the next three weeks, each with
its at-risk and breach timers: the clocks that are open but not due. Then a stream of
clocks comes due in real time (``STREAM_RATE`` a second for ``window`` seconds) while
sla's own timer job (``aftercare_sla.jobs.timer_job`` under the platform's
``PeriodicWorker``, default settings) runs against the database. Measured per run:

- breach lag: from a clock's due time to the commit of the transaction that put its
  ``sla.breached`` in the outbox (the end of the timer round; an upper bound);
- CPU per second of the worker: the bench process (which runs only the worker while
  measuring) plus its Postgres backend (``/proc/<pid>/stat``), over the window.

The same stream runs first with 10,000 open clocks, then with 1,000,000 (the rest loaded
in between), so the two figures are taken side by side and their ratio shows whether the
worker's cost follows what is due or what is open. ``EXPLAIN`` of the claim query is
recorded too (it must walk ``ix_clock_timers_due_at_id``).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from aftercare_shared.db import create_session_factory
from aftercare_shared.events import CloudEvent
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.periodic import PeriodicJob, PeriodicWorker
from aftercare_shared.settings import CommonSettings
from aftercare_sla import use_cases
from aftercare_sla.jobs import timer_job
from aftercare_sla.models import Clock, ClockTimer, TrackedTicket, outbox
from aftercare_sla.settings import SlaSettings
from bench.footprint import parse_cpu_ticks
from bench.report import TableRow, number, ratio_text
from bench.stats import percentile, ratio
from devkit.databases import create_migrated_database, drop_database

SCHEMA = schema_of(ServiceName.SLA)
SMALL = 10_000
LARGE = 1_000_000
QUICK_LARGE = 100_000
STREAM_RATE = 50
"""Clocks coming due per second during a measured window."""
SPREAD = timedelta(weeks=3)
FIRST_BACKGROUND_DUE = timedelta(hours=1)
STREAM_LEAD = timedelta(seconds=2)
"""The first streamed clock is due this long after the window opens."""
BENCH_CLIENT = "bench-client"


@dataclass(frozen=True, slots=True)
class TimerRun:
    open_clocks: int
    streamed: int
    breached: int
    window_seconds: float
    cpu_seconds: float
    lags: list[float]

    @property
    def cpu_per_second(self) -> float:
        return self.cpu_seconds / self.window_seconds

    def lag(self, q: float) -> float | None:
        return percentile(self.lags, q)

    def as_json(self) -> dict[str, Any]:
        return {
            "open_not_due_clocks": self.open_clocks,
            "streamed_clocks": self.streamed,
            "breached_events": self.breached,
            "window_seconds": round(self.window_seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "cpu_per_second": round(self.cpu_per_second, 4),
            "breach_lag_ms": {
                f"p{q}": None if (v := self.lag(q)) is None else round(v * 1000, 1)
                for q in (50, 90, 99)
            }
            | {"max": round(max(self.lags) * 1000, 1) if self.lags else None},
        }


@dataclass(frozen=True, slots=True)
class TimerScaleResult:
    small: TimerRun
    large: TimerRun
    load_seconds: float
    poll_seconds: float
    claim_plan: str

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": [self.small.as_json(), self.large.as_json()],
            "cpu_per_second_ratio_large_to_small": ratio(
                self.large.cpu_per_second, self.small.cpu_per_second
            ),
            "bulk_load_seconds": round(self.load_seconds, 1),
            "timer_poll_seconds": self.poll_seconds,
            "claim_query_plan": self.claim_plan,
        }


async def _bulk_load(
    session: AsyncSession, *, plan_id: str, prefix: str, first: int, count: int, now: datetime
) -> None:
    """``count`` open resolution clocks due over ``SPREAD`` from ``now`` + an hour, each
    with an at-risk and a breach timer, in three set-based statements."""
    params = {
        "plan": plan_id,
        "client": BENCH_CLIENT,
        "first": first,
        "last": first + count - 1,
        "now": now,
        "earliest": now + FIRST_BACKGROUND_DUE,
        "spread": int(SPREAD.total_seconds()),
        "prefix": prefix,
    }
    await session.execute(
        text(
            f"INSERT INTO {SCHEMA}.tickets (ticket_id, client_id, plan_id, plan_version,"  # noqa: S608 - constants only
            " priority, status, created_at, updated_at)"
            " SELECT :prefix || g, :client, :plan, 1, 'P3', 'in_progress',"
            "   CAST(:now AS timestamptz), CAST(:now AS timestamptz)"
            " FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g"
        ),
        params,
    )
    # A multiplicative hash of the row number spreads due times evenly, unsorted.
    await session.execute(
        text(
            f"INSERT INTO {SCHEMA}.clocks (id, ticket_id, metric, target_seconds,"  # noqa: S608 - constants only
            " at_risk_ratio, started_at, due_at, at_risk_at, pauses, version, cycle)"
            " SELECT :prefix || g, :prefix || g, 'resolution',"
            "   EXTRACT(EPOCH FROM d.due - CAST(:now AS timestamptz))::bigint, 0.75,"
            "   CAST(:now AS timestamptz), d.due,"
            "   CAST(:now AS timestamptz) + (d.due - CAST(:now AS timestamptz)) * 0.75,"
            "   '[]'::jsonb, 1, 1"
            " FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g,"
            "   LATERAL (SELECT CAST(:earliest AS timestamptz)"
            "     + make_interval(secs => (g * 7919) % CAST(:spread AS bigint))"
            "     AS due) AS d"
        ),
        params,
    )
    await session.execute(
        text(
            f"INSERT INTO {SCHEMA}.clock_timers (clock_id, kind, due_at, clock_version)"  # noqa: S608 - constants only
            " SELECT c.id, k.kind, CASE k.kind WHEN 'breach' THEN c.due_at ELSE c.at_risk_at END,"
            " 1"
            f" FROM {SCHEMA}.clocks AS c CROSS JOIN (VALUES ('at_risk'), ('breach')) AS k(kind)"
            " WHERE c.id LIKE :prefix || '%'"
        ),
        params,
    )
    await session.commit()


async def _stream(
    session: AsyncSession, *, plan_id: str, prefix: str, count: int, first_due: datetime
) -> None:
    """``count`` clocks already at risk, due one after another at ``STREAM_RATE`` a second."""
    params = {
        "plan": plan_id,
        "client": BENCH_CLIENT,
        "count": count,
        "first_due": first_due,
        "rate": STREAM_RATE,
        "prefix": prefix,
    }
    await session.execute(
        text(
            f"INSERT INTO {SCHEMA}.tickets (ticket_id, client_id, plan_id, plan_version,"  # noqa: S608 - constants only
            " priority, status, created_at, updated_at)"
            " SELECT :prefix || g, :client, :plan, 1, 'P1', 'in_progress',"
            "   CAST(:first_due AS timestamptz) - interval '1 hour',"
            "   CAST(:first_due AS timestamptz) - interval '1 hour'"
            " FROM generate_series(1, CAST(:count AS int)) AS g"
        ),
        params,
    )
    await session.execute(
        text(
            f"INSERT INTO {SCHEMA}.clocks (id, ticket_id, metric, target_seconds,"  # noqa: S608 - constants only
            " at_risk_ratio, started_at, due_at, at_risk_at, at_risk_reached_at, pauses,"
            " version, cycle)"
            " SELECT :prefix || g, :prefix || g, 'resolution',"
            "   EXTRACT(EPOCH FROM d.due - s.started)::bigint, 0.75, s.started, d.due,"
            "   s.started, s.started, '[]'::jsonb, 1, 1"
            " FROM generate_series(1, CAST(:count AS int)) AS g,"
            "   LATERAL (SELECT CAST(:first_due AS timestamptz)"
            "     + make_interval(secs => (g - 1)::float / CAST(:rate AS float8))"
            "     AS due) AS d,"
            "   LATERAL (SELECT CAST(:first_due AS timestamptz) - interval '1 hour'"
            "     AS started) AS s"
        ),
        params,
    )
    await session.execute(
        text(
            f"INSERT INTO {SCHEMA}.clock_timers (clock_id, kind, due_at, clock_version)"  # noqa: S608 - constants only
            f" SELECT id, 'breach', due_at, 1 FROM {SCHEMA}.clocks WHERE id LIKE :prefix || '%'"
        ),
        params,
    )
    await session.commit()


async def _analyze(engine: AsyncEngine) -> None:
    """Fresh statistics after a bulk load, as autovacuum would soon give a live system."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("tickets", "clocks", "clock_timers"):
            await autocommit.execute(text(f"VACUUM ANALYZE {SCHEMA}.{table}"))


async def _claim_plan(sessions: async_sessionmaker[AsyncSession], now: datetime) -> str:
    """The claim query's plan, as the timer job sends it."""
    statement = (
        select(ClockTimer, Clock, TrackedTicket)
        .join(Clock, Clock.id == ClockTimer.clock_id)
        .join(TrackedTicket, TrackedTicket.ticket_id == Clock.ticket_id)
        .where(ClockTimer.due_at < now)
        .order_by(ClockTimer.due_at, ClockTimer.id)
        .limit(100)
        .with_for_update(of=[ClockTimer, Clock], skip_locked=True)
    )
    async with sessions() as session:
        dialect = session.get_bind().dialect
        sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        rows = (await session.execute(text(f"EXPLAIN {sql}"))).scalars().all()
    return "\n".join(rows)


def _backend_cpu_seconds(pid: int) -> float:
    return parse_cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / os.sysconf("SC_CLK_TCK")


async def _measure(
    engine: AsyncEngine,
    *,
    plan_id: str,
    prefix: str,
    open_clocks: int,
    window: float,
    settings: SlaSettings,
) -> TimerRun:
    sessions = create_session_factory(engine)
    count = int(window * STREAM_RATE)
    opened = datetime.now(UTC)
    async with sessions() as session:
        await _stream(
            session, plan_id=plan_id, prefix=prefix, count=count, first_due=opened + STREAM_LEAD
        )
        backend = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
    await _analyze(engine)

    job = timer_job(settings)
    rounds: list[tuple[float, int]] = []

    async def timed_round(session_factory: async_sessionmaker[AsyncSession]) -> int:
        handled = await job.run(session_factory)
        if handled:
            rounds.append((time.time(), handled))  # after the round's commit
        return handled

    worker = PeriodicWorker(
        PeriodicJob(job.name, job.interval_seconds, timed_round, job.batch_size), sessions
    )
    started_wall = time.monotonic()
    cpu_before = time.process_time() + _backend_cpu_seconds(backend)
    running = asyncio.create_task(worker.run())
    end = opened + STREAM_LEAD + timedelta(seconds=window) + timedelta(seconds=1.5)
    await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
    await worker.stop()
    await running
    cpu_seconds = time.process_time() + _backend_cpu_seconds(backend) - cpu_before
    window_seconds = time.monotonic() - started_wall

    async with sessions() as session:
        payloads = (
            await session.scalars(
                select(outbox.c.payload)
                .where(outbox.c.record_key.like(f"{prefix}%"))
                .order_by(outbox.c.id)
            )
        ).all()
    events_out = [CloudEvent.from_json_bytes(bytes(payload)) for payload in payloads]
    breached = [event for event in events_out if event.short_type == "sla.breached"]
    # Rounds commit in outbox id order (one worker): the i-th event belongs to the round
    # whose cumulative count first exceeds i.
    lags: list[float] = []
    events = iter(breached)
    for committed_at, handled in rounds:
        for _ in range(handled):
            event = next(events, None)
            if event is None:
                break
            due = datetime.fromisoformat(event.data["due_at"]).timestamp()
            lags.append(committed_at - due)
    return TimerRun(
        open_clocks=open_clocks,
        streamed=count,
        breached=len(breached),
        window_seconds=window_seconds,
        cpu_seconds=cpu_seconds,
        lags=lags,
    )


async def measure_timer_scale(*, large: int = LARGE, window: float = 20.0) -> TimerScaleResult:
    url = await create_migrated_database("sla", prefix="benchtimers")
    # One connection: the worker's Postgres backend is the one whose CPU is read.
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    settings = SlaSettings(common=CommonSettings(database_url=url))
    try:
        sessions = create_session_factory(engine)
        async with sessions() as session:
            plan = await use_cases.create_plan(
                session,
                name="bench plan",
                targets={
                    p: {"first_response_minutes": 60, "resolution_minutes": 40_320}
                    for p in ("P1", "P2", "P3", "P4")
                },
                calendar=None,
                at_risk_ratio=0.75,
            )
        now = datetime.now(UTC)
        loading = time.perf_counter()
        async with sessions() as session:
            await _bulk_load(session, plan_id=plan.id, prefix="a", first=1, count=SMALL, now=now)
        load_seconds = time.perf_counter() - loading
        await _analyze(engine)
        small = await _measure(
            engine,
            plan_id=plan.id,
            prefix="s1-",
            open_clocks=SMALL,
            window=window,
            settings=settings,
        )
        loading = time.perf_counter()
        async with sessions() as session:
            await _bulk_load(
                session, plan_id=plan.id, prefix="b", first=1, count=large - SMALL, now=now
            )
        load_seconds += time.perf_counter() - loading
        await _analyze(engine)
        claim_plan = await _claim_plan(sessions, datetime.now(UTC))
        big = await _measure(
            engine,
            plan_id=plan.id,
            prefix="s2-",
            open_clocks=large,
            window=window,
            settings=settings,
        )
    finally:
        await engine.dispose()
        await drop_database(url)
    return TimerScaleResult(
        small=small,
        large=big,
        load_seconds=load_seconds,
        poll_seconds=settings.timer_poll_seconds,
        claim_plan=claim_plan,
    )


def timer_rows(result: TimerScaleResult) -> list[TableRow]:
    name = "11 sla timers"
    small, large = result.small, result.large
    base = f"{small.open_clocks:,} open clocks"
    rows = []
    for q in (50, 99):
        small_lag, large_lag = small.lag(q), large.lag(q)
        rows.append(
            TableRow(
                name,
                f"breach lag p{q} ms, {large.open_clocks:,} open clocks",
                number(None if large_lag is None else large_lag * 1000),
                base,
                number(None if small_lag is None else small_lag * 1000),
                ratio_text(ratio(large_lag, small_lag)),
            )
        )
    rows.append(
        TableRow(
            name,
            f"worker CPU s/s (+ its Postgres backend), {large.open_clocks:,} open clocks",
            number(large.cpu_per_second, 4),
            base,
            number(small.cpu_per_second, 4),
            ratio_text(ratio(large.cpu_per_second, small.cpu_per_second)),
        )
    )
    rows.append(
        TableRow(
            name,
            f"sla.breached events / clocks streamed ({STREAM_RATE}/s)",
            f"{large.breached}/{large.streamed}",
            base,
            f"{small.breached}/{small.streamed}",
            "",
        )
    )
    return rows


if __name__ == "__main__":
    figures = asyncio.run(measure_timer_scale()).as_json()
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
