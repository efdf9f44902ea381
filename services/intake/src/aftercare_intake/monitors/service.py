"""Monitors' use cases: create/change/delete, check-ins, deadlines and probe results.

Each public function is one transaction's worth of work (the HTTP ones commit; the timer
rounds commit their batch). Every state change goes through :func:`_apply_verdict`, so a
check-in, a missed deadline and a probe all open, count and resolve incidents the same way.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import filing_batch
from aftercare_intake.announcements import announce
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.errors import (
    ClientNotFoundError,
    InvalidMonitorError,
    MonitorNotFoundError,
    MonitorSlugTakenError,
    MonitorUrlRefusedError,
)
from aftercare_intake.models import Client, Monitor, MonitorCheckIn, MonitorIncident, MonitorProbe
from aftercare_intake.monitors import incidents, store
from aftercare_intake.monitors.evaluation import (
    FailureReason,
    Tally,
    Verdict,
    judge_bad,
    judge_good,
)
from aftercare_intake.monitors.probes import ProbeResult
from aftercare_intake.monitors.schedule import IntervalUnit, Schedule, ScheduleType
from aftercare_intake.monitors.vocabulary import CheckInSource, HttpMethod, ReportedStatus
from aftercare_intake.occurrence import Occurrence
from aftercare_shared.auth import Principal
from aftercare_shared.events.catalog import (
    MonitorDeleted,
    MonitorFailed,
    MonitorKind,
    MonitorRecovered,
    MonitorUpserted,
    Priority,
)
from aftercare_shared.pagination import CursorPosition
from aftercare_shared.ssrf import SsrfRefused, parse_target_url

PING_KEY_BYTES = 18
CERTIFICATE_PRIORITY: Priority = "P3"
# Probes are spread over this share of their interval (at most MAX_JITTER), so monitors
# created together do not probe together for ever.
JITTER_SHARE = 0.1
MAX_JITTER = timedelta(seconds=30)

REASON_TITLES: dict[FailureReason, str] = {
    "missed": "missed its check-in",
    "timed_out": "ran past its maximum runtime",
    "failed": "reported a failure",
    "http_status": "answered with an unexpected HTTP status",
    "body_mismatch": "answered without the expected text",
    "timeout": "did not answer in time",
    "connection_error": "could not be reached",
}


def new_id() -> str:
    return str(uuid.uuid4())


def new_ping_key() -> str:
    return secrets.token_urlsafe(PING_KEY_BYTES)


@dataclass(frozen=True, slots=True)
class MonitorFields:
    """Everything a monitor is told (API body or Sentry ``monitor_config``), unchecked."""

    name: str
    slug: str
    kind: MonitorKind
    schedule_type: ScheduleType
    schedule_value: str | int
    schedule_unit: IntervalUnit | None = None
    environment: str | None = None
    timezone: str = "UTC"
    checkin_margin_minutes: int = 1
    max_runtime_minutes: int = 30
    failure_threshold: int = 1
    recovery_threshold: int = 1
    priority: Priority = "P2"
    paused: bool = False
    url: str | None = None
    method: HttpMethod = "GET"
    expected_status: str = "2xx"
    body_contains: str | None = None
    timeout_seconds: float = 10.0
    certificate_expiry_days: int = 14
    follow_redirects: bool = False

    def schedule(self) -> Schedule:
        return Schedule.checked(
            type=self.schedule_type,
            value=self.schedule_value,
            unit=self.schedule_unit,
            timezone=self.timezone,
        )

    def check(self) -> Schedule:
        schedule = self.schedule()
        if self.kind == "uptime":
            if self.schedule_type != "interval":
                raise InvalidMonitorError(
                    "An uptime monitor probes on an interval schedule.", field="schedule.type"
                )
            if self.url is None:
                raise InvalidMonitorError("An uptime monitor needs a url.", field="url")
            try:
                parse_target_url(self.url)
            except SsrfRefused as refused:
                raise MonitorUrlRefusedError(f"The url is refused: {refused}.") from None
        return schedule


def schedule_of(monitor: Monitor) -> Schedule:
    return Schedule(
        type=monitor.schedule_type,
        crontab=monitor.crontab,
        interval=monitor.interval_value,
        unit=monitor.interval_unit,  # type: ignore[arg-type]
        timezone=monitor.timezone,
    )


def fields_of(monitor: Monitor) -> MonitorFields:
    schedule = schedule_of(monitor)
    value: str | int = (
        schedule.crontab if schedule.crontab is not None else (schedule.interval or 0)
    )
    return MonitorFields(
        name=monitor.name,
        slug=monitor.slug,
        kind=monitor.kind,
        schedule_type=monitor.schedule_type,
        schedule_value=value,
        schedule_unit=schedule.unit,
        environment=monitor.environment,
        timezone=monitor.timezone,
        checkin_margin_minutes=monitor.checkin_margin_minutes,
        max_runtime_minutes=monitor.max_runtime_minutes,
        failure_threshold=monitor.failure_threshold,
        recovery_threshold=monitor.recovery_threshold,
        priority=monitor.priority,
        paused=monitor.paused,
        url=monitor.url,
        method=monitor.method,
        expected_status=monitor.expected_status,
        body_contains=monitor.body_contains,
        timeout_seconds=monitor.timeout_seconds,
        certificate_expiry_days=monitor.certificate_expiry_days,
        follow_redirects=monitor.follow_redirects,
    )


def _write_fields(monitor: Monitor, values: MonitorFields, schedule: Schedule) -> None:
    monitor.name = values.name
    monitor.slug = values.slug
    monitor.kind = values.kind
    monitor.environment = values.environment
    monitor.schedule_type = schedule.type
    monitor.crontab = schedule.crontab
    monitor.interval_value = schedule.interval
    monitor.interval_unit = schedule.unit
    monitor.timezone = schedule.timezone
    monitor.checkin_margin_minutes = values.checkin_margin_minutes
    monitor.max_runtime_minutes = values.max_runtime_minutes
    monitor.failure_threshold = values.failure_threshold
    monitor.recovery_threshold = values.recovery_threshold
    monitor.priority = values.priority
    monitor.paused = values.paused
    monitor.url = values.url
    monitor.method = values.method
    monitor.expected_status = values.expected_status
    monitor.body_contains = values.body_contains
    monitor.timeout_seconds = values.timeout_seconds
    monitor.certificate_expiry_days = values.certificate_expiry_days
    monitor.follow_redirects = values.follow_redirects


# --- timers -------------------------------------------------------------------------------


def heartbeat_due(monitor: Monitor) -> datetime | None:
    """The next moment the timer must look at the monitor: a deadline or a runtime limit."""
    if monitor.paused:
        return None
    candidates: list[datetime] = []
    if monitor.next_expected_at is not None:
        candidates.append(
            monitor.next_expected_at + timedelta(minutes=monitor.checkin_margin_minutes)
        )
    if monitor.run_started_at is not None:
        candidates.append(monitor.run_started_at + timedelta(minutes=monitor.max_runtime_minutes))
    return min(candidates) if candidates else None


def next_probe_at(
    monitor: Monitor, *, after: datetime, rng: random.Random | None = None
) -> datetime:
    period = schedule_of(monitor).period
    spread = min(period * JITTER_SHARE, MAX_JITTER).total_seconds()
    return after + period + timedelta(seconds=(rng or random).uniform(0, spread))


async def _rearm(session: AsyncSession, monitor: Monitor, *, now: datetime) -> None:
    if monitor.kind == "heartbeat":
        await store.arm(session, monitor_id=monitor.id, due_at=heartbeat_due(monitor))
    else:
        await store.arm(session, monitor_id=monitor.id, due_at=None if monitor.paused else now)


# --- CRUD ---------------------------------------------------------------------------------


def _upserted(monitor: Monitor) -> MonitorUpserted:
    return MonitorUpserted(
        monitor_id=monitor.id,
        client_id=monitor.client_id,
        name=monitor.name,
        slug=monitor.slug,
        kind=monitor.kind,
        environment=monitor.environment,
        paused=monitor.paused,
        updated_at=monitor.updated_at,
    )


async def _announce_upserted(session: AsyncSession, monitor: Monitor) -> None:
    await announce(session, _upserted(monitor), subject=monitor.id, client_id=monitor.client_id)


async def _flush_unique(session: AsyncSession, slug: str) -> None:
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        if "uq_monitors_client_id_slug" in str(error.orig):
            raise MonitorSlugTakenError(
                f"This client already has a monitor with slug {slug!r}.", slug=slug
            ) from None
        raise


async def _insert_monitor(
    session: AsyncSession, *, client_id: str, values: MonitorFields, now: datetime
) -> Monitor:
    schedule = values.check()
    monitor = Monitor(
        id=new_id(),
        client_id=client_id,
        ping_key=new_ping_key(),
        state="new",
        consecutive_failures=0,
        consecutive_successes=0,
        incident_count=0,
        created_at=now,
        updated_at=now,
    )
    _write_fields(monitor, values, schedule)
    if monitor.kind == "heartbeat" and not monitor.paused:
        monitor.next_expected_at = schedule.next_after(now)
    session.add(monitor)
    await _flush_unique(session, values.slug)
    await _rearm(session, monitor, now=now)
    await _announce_upserted(session, monitor)
    return monitor


async def create_monitor(
    session: AsyncSession, *, client_id: str, values: MonitorFields, now: datetime
) -> Monitor:
    if await session.get(Client, client_id) is None:
        raise ClientNotFoundError("No client with that id.")
    monitor = await _insert_monitor(session, client_id=client_id, values=values, now=now)
    await session.commit()
    return monitor


async def visible_monitor(
    session: AsyncSession, *, principal: Principal, monitor_id: str
) -> Monitor:
    monitor = await session.get(Monitor, monitor_id)
    if monitor is None or not principal.may_see_client(monitor.client_id):
        raise MonitorNotFoundError("No monitor with that id.")
    return monitor


async def list_visible_monitors(
    session: AsyncSession,
    *,
    principal: Principal,
    client_id: str | None,
    after: CursorPosition | None,
    limit: int,
) -> list[Monitor]:
    if not principal.is_staff:
        if client_id is not None and client_id != principal.client_id:
            return []
        client_id = principal.client_id
    return await store.list_monitors(session, client_id=client_id, after=after, limit=limit)


async def _locked(session: AsyncSession, monitor_id: str) -> Monitor:
    monitor = await store.lock_monitor(session, monitor_id)
    if monitor is None:
        raise MonitorNotFoundError("No monitor with that id.")
    return monitor


async def update_monitor(
    session: AsyncSession, *, monitor_id: str, changes: dict[str, Any], now: datetime
) -> Monitor:
    """Apply a PATCH (``changes`` holds the sent fields, in :class:`MonitorFields` names)."""
    monitor = await _locked(session, monitor_id)
    known = {field.name for field in fields(MonitorFields)}
    values = replace(fields_of(monitor), **{k: v for k, v in changes.items() if k in known})
    await _apply_fields(session, monitor, values, now=now)
    await session.commit()
    return monitor


async def _apply_fields(
    session: AsyncSession, monitor: Monitor, values: MonitorFields, *, now: datetime
) -> None:
    schedule = values.check()
    before = fields_of(monitor)
    was_paused = monitor.paused
    _write_fields(monitor, values, schedule)
    if values == before:
        return
    monitor.updated_at = now
    schedule_changed = (
        before.schedule_type,
        before.schedule_value,
        before.schedule_unit,
        before.timezone,
    ) != (values.schedule_type, values.schedule_value, values.schedule_unit, values.timezone)
    if monitor.kind == "heartbeat" and (schedule_changed or (was_paused and not monitor.paused)):
        # Resumed or rescheduled: the next run is expected from now on, never "already late".
        monitor.next_expected_at = schedule.next_after(now)
        monitor.run_started_at = None
        monitor.run_check_in_id = None
    await _flush_unique(session, values.slug)
    await _rearm(session, monitor, now=now)
    await _announce_upserted(session, monitor)


async def delete_monitor(session: AsyncSession, *, monitor_id: str, now: datetime) -> None:
    monitor = await _locked(session, monitor_id)
    await announce(
        session,
        MonitorDeleted(monitor_id=monitor.id, client_id=monitor.client_id, deleted_at=now),
        subject=monitor.id,
        client_id=monitor.client_id,
    )
    await session.delete(monitor)
    await session.commit()


async def rotate_ping_key(session: AsyncSession, *, monitor_id: str, now: datetime) -> Monitor:
    monitor = await _locked(session, monitor_id)
    monitor.ping_key = new_ping_key()
    monitor.updated_at = now
    await session.commit()
    return monitor


# --- check-ins ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckIn:
    status: ReportedStatus
    source: CheckInSource
    check_in_id: str | None = None
    duration_ms: int | None = None
    exit_status: int | None = None
    environment: str | None = None


async def check_in_by_id(
    session: AsyncSession,
    *,
    principal: Principal,
    monitor_id: str,
    check_in: CheckIn,
    now: datetime,
    policy: OccurrencePolicy,
) -> MonitorCheckIn:
    monitor = await store.lock_monitor(session, monitor_id)
    if monitor is None or not principal.may_see_client(monitor.client_id):
        raise MonitorNotFoundError("No monitor with that id.")
    row = await apply_check_in(session, monitor, check_in, now=now, policy=policy)
    await session.commit()
    return row


async def check_in_by_ping_key(
    session: AsyncSession,
    *,
    ping_key: str,
    check_in: CheckIn,
    now: datetime,
    policy: OccurrencePolicy,
) -> MonitorCheckIn:
    monitor = await store.monitor_by_ping_key(session, ping_key)
    if monitor is None:
        raise MonitorNotFoundError("No monitor has this ping URL (was its key rotated?).")
    row = await apply_check_in(session, monitor, check_in, now=now, policy=policy)
    await session.commit()
    return row


async def apply_check_in(
    session: AsyncSession,
    monitor: Monitor,
    check_in: CheckIn,
    *,
    now: datetime,
    policy: OccurrencePolicy,
) -> MonitorCheckIn:
    """Record a check-in on a locked monitor and judge it (a paused monitor only records)."""
    duration_ms = check_in.duration_ms
    if (
        check_in.status != "in_progress"
        and duration_ms is None
        and monitor.run_started_at is not None
        and check_in.check_in_id in (None, monitor.run_check_in_id)
    ):
        duration_ms = int((now - monitor.run_started_at).total_seconds() * 1000)
    row = MonitorCheckIn(
        id=new_id(),
        monitor_id=monitor.id,
        status=check_in.status,
        source=check_in.source,
        check_in_id=check_in.check_in_id,
        exit_status=check_in.exit_status,
        duration_ms=duration_ms,
        environment=check_in.environment,
        created_at=now,
    )
    session.add(row)
    monitor.last_check_in_at = now
    if monitor.paused or monitor.kind != "heartbeat":
        return row
    monitor.next_expected_at = schedule_of(monitor).next_after(now)
    if check_in.status == "in_progress":
        monitor.run_started_at = now
        monitor.run_check_in_id = check_in.check_in_id
    else:
        monitor.run_started_at = None
        monitor.run_check_in_id = None
        failed = check_in.status == "error" or check_in.exit_status not in (None, 0)
        if failed:
            detail = (
                f"The job exited with status {check_in.exit_status}."
                if check_in.exit_status not in (None, 0)
                else "The job reported an error."
            )
            await _judge_bad(session, monitor, "failed", detail=detail, now=now, policy=policy)
        else:
            await _judge_good(session, monitor, now=now)
    await store.arm(session, monitor_id=monitor.id, due_at=heartbeat_due(monitor))
    return row


# --- the state machine, applied -------------------------------------------------------------


def _tally(monitor: Monitor) -> Tally:
    return Tally(
        state=monitor.state,
        consecutive_failures=monitor.consecutive_failures,
        consecutive_successes=monitor.consecutive_successes,
        incident_open=monitor.open_incident_id is not None,
        failing_since=monitor.failing_since,
    )


def _store_tally(monitor: Monitor, verdict: Verdict) -> None:
    monitor.state = verdict.tally.state
    monitor.consecutive_failures = verdict.tally.consecutive_failures
    monitor.consecutive_successes = verdict.tally.consecutive_successes
    monitor.failing_since = verdict.tally.failing_since


async def _judge_bad(
    session: AsyncSession,
    monitor: Monitor,
    reason: FailureReason,
    *,
    detail: str | None,
    now: datetime,
    policy: OccurrencePolicy,
    deferred: list[tuple[str, Occurrence]] | None = None,
) -> None:
    """Apply a bad outcome. With ``deferred``, a further occurrence on an open incident is
    appended there for the caller to file with the rest of its batch; opening an incident
    always files at once (its ticket id goes into ``monitor.failed``)."""
    verdict = judge_bad(
        _tally(monitor), reason=reason, at=now, failure_threshold=monitor.failure_threshold
    )
    _store_tally(monitor, verdict)
    if not (verdict.open_incident or verdict.count_occurrence):
        return
    if verdict.count_occurrence and deferred is not None:
        occurrence = incidents.incident_occurrence(
            monitor,
            title=REASON_TITLES[reason],
            detail=detail,
            fingerprint=incidents.incident_fingerprint(monitor),
            priority=monitor.priority,
            now=now,
            details={"reason": reason},
        )
        deferred.append((monitor.client_id, occurrence))
        return
    if verdict.open_incident:
        monitor.incident_count += 1
    filed = await incidents.file_incident(
        session,
        monitor,
        title=REASON_TITLES[reason],
        detail=detail,
        fingerprint=incidents.incident_fingerprint(monitor),
        priority=monitor.priority,
        now=now,
        policy=policy,
        details={"reason": reason},
    )
    if not verdict.open_incident:
        return
    started_at = verdict.tally.failing_since or now
    incident = MonitorIncident(
        id=new_id(),
        monitor_id=monitor.id,
        ticket_id=filed.ticket_id,
        reason=reason,
        detail=detail,
        started_at=started_at,
    )
    session.add(incident)
    monitor.open_incident_id = incident.id
    monitor.open_ticket_id = filed.ticket_id
    await announce(
        session,
        MonitorFailed(
            monitor_id=monitor.id,
            client_id=monitor.client_id,
            name=monitor.name,
            slug=monitor.slug,
            kind=monitor.kind,
            environment=monitor.environment,
            reason=reason,
            detail=detail,
            ticket_id=filed.ticket_id,
            failed_at=started_at,
        ),
        subject=monitor.id,
        client_id=monitor.client_id,
    )


async def _judge_good(session: AsyncSession, monitor: Monitor, *, now: datetime) -> None:
    incident_id, ticket_id = monitor.open_incident_id, monitor.open_ticket_id
    verdict = judge_good(_tally(monitor), recovery_threshold=monitor.recovery_threshold)
    _store_tally(monitor, verdict)
    if not verdict.recover or incident_id is None:
        return
    incident = await session.get(MonitorIncident, incident_id, with_for_update=True)
    failed_at = incident.started_at if incident is not None else now
    if incident is not None:
        incident.ended_at = now
    if ticket_id is not None:
        await incidents.resolve_recovered(
            session, ticket_id=ticket_id, monitor_id=monitor.id, now=now
        )
    monitor.open_incident_id = None
    monitor.open_ticket_id = None
    await announce(
        session,
        MonitorRecovered(
            monitor_id=monitor.id,
            client_id=monitor.client_id,
            name=monitor.name,
            slug=monitor.slug,
            ticket_id=ticket_id,
            failed_at=failed_at,
            recovered_at=now,
        ),
        subject=monitor.id,
        client_id=monitor.client_id,
    )


# --- deadlines (the heartbeat timer) ------------------------------------------------------


async def evaluate_due_heartbeats(
    session: AsyncSession, *, now: datetime, limit: int, policy: OccurrencePolicy
) -> int:
    """One round: every heartbeat whose deadline has passed, at most ``limit``; commits.

    A run past its ``max_runtime`` is timed out; a check-in not in by its expected time
    plus margin is missed (and the next one is expected at the following scheduled time).
    One step per monitor per round: a monitor that is still due (a long outage) is taken
    again by the next round, so a round's cost stays bounded.
    """
    claimed = await store.claim_due(session, kind="heartbeat", now=now, limit=limit)
    # A round's per-miss writes are batched (per miss they cost ~4 ms of CPU one by one):
    # the check-in rows go in one batched INSERT, the further misses of open incidents (the
    # steady state of a long outage) are counted in one statement and their announcements
    # queued in one batched INSERT, and the monitors' new state is one set-based UPDATE. Only a
    # new incident files on its own (its ticket id goes into its ``monitor.failed``).
    # Nothing below reads back what the round adds, so autoflush stays off.
    round_ = _DeadlineRound()
    with session.no_autoflush:
        for _timer, monitor in claimed:
            await _deadline_passed(session, monitor, now=now, policy=policy, round_=round_)
        await store.add_check_ins(session, round_.check_ins)
        await filing_batch.file_occurrences(session, round_.occurrences, policy=policy, now=now)
        dues = {monitor.id: heartbeat_due(monitor) for _, monitor in claimed}
        await store.save_round_state(session, [monitor for _, monitor in claimed])
    await store.arm_many(session, dues)
    await session.commit()
    return len(claimed)


@dataclass(slots=True)
class _DeadlineRound:
    """What a deadline round collects to write in batches."""

    check_ins: list[dict[str, Any]] = field(default_factory=list)
    occurrences: list[tuple[str, Occurrence]] = field(default_factory=list)


async def _deadline_passed(
    session: AsyncSession,
    monitor: Monitor,
    *,
    now: datetime,
    policy: OccurrencePolicy,
    round_: _DeadlineRound,
) -> None:
    if monitor.paused:
        return
    runtime_limit = (
        monitor.run_started_at + timedelta(minutes=monitor.max_runtime_minutes)
        if monitor.run_started_at is not None
        else None
    )
    if runtime_limit is not None and runtime_limit <= now:
        assert monitor.run_started_at is not None
        started = monitor.run_started_at
        round_.check_ins.append(_timer_check_in(monitor, "timed_out", at=runtime_limit))
        monitor.run_started_at = None
        monitor.run_check_in_id = None
        detail = (
            f"The run started at {started.isoformat()} did not finish within "
            f"{monitor.max_runtime_minutes} min."
        )
        await _judge_bad(
            session,
            monitor,
            "timed_out",
            detail=detail,
            now=now,
            policy=policy,
            deferred=round_.occurrences,
        )
        return
    expected = monitor.next_expected_at
    if expected is None:
        return
    deadline = expected + timedelta(minutes=monitor.checkin_margin_minutes)
    if deadline > now:
        return
    round_.check_ins.append(_timer_check_in(monitor, "missed", at=deadline))
    monitor.next_expected_at = schedule_of(monitor).next_after(expected)
    detail = (
        f"No check-in was expected at {expected.isoformat()} came by "
        f"{deadline.isoformat()} ({monitor.checkin_margin_minutes} min margin)."
    )
    await _judge_bad(
        session,
        monitor,
        "missed",
        detail=detail,
        now=now,
        policy=policy,
        deferred=round_.occurrences,
    )


def _timer_check_in(monitor: Monitor, status: str, *, at: datetime) -> dict[str, Any]:
    """A check-in row the timer records (a miss, a timeout), as INSERT values."""
    return {
        "id": new_id(),
        "monitor_id": monitor.id,
        "status": status,
        "source": "timer",
        "environment": monitor.environment,
        "created_at": at,
    }


# --- uptime probes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeOrder:
    """What one probe needs to know, taken from the monitor when it was claimed."""

    monitor_id: str
    url: str
    method: HttpMethod
    expected_status: str
    body_contains: str | None
    timeout_seconds: float
    follow_redirects: bool


async def claim_due_probes(
    session: AsyncSession, *, now: datetime, limit: int, rng: random.Random | None = None
) -> list[ProbeOrder]:
    """Claim the due probes and move each one's timer to its next (jittered) time; commits.

    The claim is committed before anything is probed: a probe is network I/O, and no row
    stays locked meanwhile. A replica dying mid-probe costs that one probe, never the
    schedule (the timer already points at the next one).
    """
    claimed = await store.claim_due(session, kind="uptime", now=now, limit=limit)
    orders: list[ProbeOrder] = []
    for timer, monitor in claimed:
        if monitor.paused or monitor.url is None:
            await session.delete(timer)
            continue
        timer.due_at = next_probe_at(monitor, after=now, rng=rng)
        orders.append(
            ProbeOrder(
                monitor_id=monitor.id,
                url=monitor.url,
                method=monitor.method,
                expected_status=monitor.expected_status,
                body_contains=monitor.body_contains,
                timeout_seconds=monitor.timeout_seconds,
                follow_redirects=monitor.follow_redirects,
            )
        )
    await session.commit()
    return orders


async def record_probe(
    session: AsyncSession,
    *,
    monitor_id: str,
    result: ProbeResult,
    now: datetime,
    policy: OccurrencePolicy,
) -> MonitorProbe | None:
    """Keep the probe's result and judge it; commits. None when the monitor went meanwhile."""
    monitor = await store.lock_monitor(session, monitor_id)
    if monitor is None:
        await session.rollback()
        return None
    certificate = result.certificate
    probe = MonitorProbe(
        id=new_id(),
        monitor_id=monitor.id,
        started_at=result.started_at,
        outcome=result.outcome,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=result.error,
        certificate_expires_at=certificate.expires_at if certificate else None,
    )
    session.add(probe)
    if not monitor.paused:
        if result.outcome == "up":
            await _judge_good(session, monitor, now=now)
        else:
            await _judge_bad(
                session, monitor, result.outcome, detail=result.error, now=now, policy=policy
            )
        if certificate is not None:
            await _check_certificate(session, monitor, certificate, now=now, policy=policy)
    await session.commit()
    return probe


async def _check_certificate(
    session: AsyncSession,
    monitor: Monitor,
    certificate: Any,
    *,
    now: datetime,
    policy: OccurrencePolicy,
) -> None:
    """A certificate expiring within ``certificate_expiry_days`` opens a P3 ticket, once."""
    if certificate.expires_at - now > timedelta(days=monitor.certificate_expiry_days):
        return
    if monitor.certificate_alerted == certificate.sha256:
        return
    monitor.certificate_alerted = certificate.sha256
    detail = (
        f"The TLS certificate of {monitor.url} (SHA-256 {certificate.sha256}) expires at "
        f"{certificate.expires_at.isoformat()}."
    )
    filed = await incidents.file_incident(
        session,
        monitor,
        title=f"TLS certificate expires on {certificate.expires_at.date().isoformat()}",
        detail=detail,
        fingerprint=incidents.certificate_fingerprint(monitor, certificate.sha256),
        priority=CERTIFICATE_PRIORITY,
        now=now,
        policy=policy,
        details={"reason": "certificate_expiring", "certificate_sha256": certificate.sha256},
    )
    await announce(
        session,
        MonitorFailed(
            monitor_id=monitor.id,
            client_id=monitor.client_id,
            name=monitor.name,
            slug=monitor.slug,
            kind=monitor.kind,
            environment=monitor.environment,
            reason="certificate_expiring",
            detail=detail,
            ticket_id=filed.ticket_id,
            failed_at=now,
        ),
        subject=monitor.id,
        client_id=monitor.client_id,
    )


# --- Sentry upserts -----------------------------------------------------------------------


async def upsert_monitor(
    session: AsyncSession, *, client_id: str, values: MonitorFields, now: datetime
) -> Monitor:
    """Create the client's monitor with this slug, or bring it to ``values`` (Sentry's
    ``monitor_config``); in the caller's transaction."""
    monitor = await store.monitor_by_slug(session, client_id=client_id, slug=values.slug)
    if monitor is None:
        return await _insert_monitor(session, client_id=client_id, values=values, now=now)
    merged = replace(values, name=monitor.name, paused=monitor.paused, priority=monitor.priority)
    await _apply_fields(session, monitor, merged, now=now)
    return monitor


async def open_ticket_ids(session: AsyncSession, monitor_ids: list[str]) -> dict[str, str]:
    rows = await session.execute(
        select(Monitor.id, Monitor.open_ticket_id).where(Monitor.id.in_(monitor_ids))
    )
    return {row[0]: row[1] for row in rows if row[1] is not None}


# --- availability -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentSpan:
    incident: MonitorIncident
    downtime: timedelta


@dataclass(frozen=True, slots=True)
class Availability:
    monitor: Monitor
    start: datetime
    end: datetime
    percent: float
    downtime: timedelta
    probes: int
    probes_up: int
    incidents: list[IncidentSpan]


async def availability(
    session: AsyncSession,
    *,
    principal: Principal,
    monitor_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> Availability:
    """Time outside incidents within [start, end) (an open incident lasts until now)."""
    if end <= start:
        raise InvalidMonitorError("The period's end must come after its start.", field="to")
    monitor = await visible_monitor(session, principal=principal, monitor_id=monitor_id)
    found = await store.incidents_overlapping(session, monitor_id=monitor.id, start=start, end=end)
    spans: list[IncidentSpan] = []
    downtime = timedelta(0)
    covered_until = start
    for incident in found:
        span_start = max(incident.started_at, start, covered_until)
        span_end = min(incident.ended_at or now, end)
        inside = max(span_end - span_start, timedelta(0))
        downtime += inside
        covered_until = max(covered_until, span_end)
        spans.append(IncidentSpan(incident, inside))
    period = end - start
    probes, probes_up = await store.probe_counts(
        session, monitor_id=monitor.id, start=start, end=end
    )
    percent = round(100.0 * (1 - downtime / period), 4)
    return Availability(monitor, start, end, percent, downtime, probes, probes_up, spans)
