"""Sentry Crons: ``check_in`` envelope items and the HTTP form, read into check-ins.

A check-in names its monitor by slug within the DSN key's client. With a
``monitor_config`` it upserts that monitor first, as Sentry does (schedule, margin, max
runtime, thresholds, zone); without one, a check-in for an unknown slug is dropped, as
Sentry drops it. Everything is read and checked before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.errors import InvalidMonitorError, MalformedEnvelopeError
from aftercare_intake.monitors import service, store
from aftercare_intake.monitors.schedule import INTERVAL_UNITS, IntervalUnit
from aftercare_intake.monitors.vocabulary import ReportedStatus

MAX_SLUG_LENGTH = 64
MAX_DURATION_SECONDS = 10**8
"""About three years: longer is not a run's duration (and would not fit the column)."""
REPORTED_STATUSES: tuple[ReportedStatus, ...] = get_args(ReportedStatus)


@dataclass(frozen=True, slots=True)
class SentryCheckIn:
    slug: str
    status: ReportedStatus
    check_in_id: str | None
    duration_ms: int | None
    environment: str | None
    config: service.MonitorFields | None


def _text(value: object, *, what: str, max_length: int = 200) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise MalformedEnvelopeError(
            f"The check-in's {what} is not a string of at most {max_length}."
        )
    return value or None


def _whole(value: object, *, what: str, default: int, low: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise InvalidMonitorError(
            f"monitor_config.{what} is not a whole number of at least {low}.",
            field=f"monitor_config.{what}",
        )
    return int(value)


def read_check_in(payload: dict[str, Any]) -> SentryCheckIn:
    """One ``check_in`` item (or the HTTP form's parameters) as a check-in, checked."""
    slug = _text(payload.get("monitor_slug"), what="monitor_slug", max_length=MAX_SLUG_LENGTH)
    if slug is None:
        raise MalformedEnvelopeError("A check-in has no monitor_slug.")
    status = payload.get("status")
    if status not in REPORTED_STATUSES:
        raise MalformedEnvelopeError(
            f"A check-in's status is {status!r}; it is one of in_progress, ok, error."
        )
    duration = payload.get("duration")
    if duration is not None and (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 0 <= duration <= MAX_DURATION_SECONDS
    ):
        raise MalformedEnvelopeError(
            f"A check-in's duration is not a number of seconds up to {MAX_DURATION_SECONDS}."
        )
    environment = _text(payload.get("environment"), what="environment", max_length=100)
    config = payload.get("monitor_config")
    if config is not None and not isinstance(config, dict):
        raise MalformedEnvelopeError("A check-in's monitor_config is not an object.")
    return SentryCheckIn(
        slug=slug,
        status=status,
        check_in_id=_text(payload.get("check_in_id"), what="check_in_id", max_length=100),
        duration_ms=round(duration * 1000) if duration is not None else None,
        environment=environment,
        config=_monitor_fields(slug, config, environment) if config is not None else None,
    )


def _monitor_fields(
    slug: str, config: dict[str, Any], environment: str | None
) -> service.MonitorFields:
    schedule = config.get("schedule")
    if not isinstance(schedule, dict):
        raise InvalidMonitorError(
            "monitor_config.schedule is missing or not an object.", field="monitor_config.schedule"
        )
    schedule_type = schedule.get("type")
    value = schedule.get("value")
    unit: IntervalUnit | None = None
    if schedule_type == "crontab":
        if not isinstance(value, str):
            raise InvalidMonitorError(
                "A crontab schedule's value is a string.", field="monitor_config.schedule.value"
            )
    elif schedule_type == "interval":
        raw_unit = schedule.get("unit")
        if raw_unit not in INTERVAL_UNITS:
            raise InvalidMonitorError(
                f"An interval's unit is one of {', '.join(INTERVAL_UNITS)}.",
                field="monitor_config.schedule.unit",
            )
        unit = raw_unit
        value = _whole(value, what="schedule.value", default=0, low=1)
    else:
        raise InvalidMonitorError(
            "monitor_config.schedule.type is crontab or interval.",
            field="monitor_config.schedule.type",
        )
    timezone = config.get("timezone") or "UTC"
    if not isinstance(timezone, str):
        raise InvalidMonitorError("monitor_config.timezone is a string.", field="timezone")
    values = service.MonitorFields(
        name=slug,
        slug=slug,
        kind="heartbeat",
        schedule_type=schedule_type,
        schedule_value=value,
        schedule_unit=unit,
        environment=environment,
        timezone=timezone,
        checkin_margin_minutes=_whole(
            config.get("checkin_margin"), what="checkin_margin", default=1, low=0
        ),
        max_runtime_minutes=_whole(
            config.get("max_runtime"), what="max_runtime", default=30, low=1
        ),
        failure_threshold=_whole(
            config.get("failure_issue_threshold"), what="failure_issue_threshold", default=1, low=1
        ),
        recovery_threshold=_whole(
            config.get("recovery_threshold"), what="recovery_threshold", default=1, low=1
        ),
    )
    values.check()  # a bad expression or zone is refused before anything is written
    return values


async def record_check_ins(
    session: AsyncSession,
    *,
    client_id: str,
    check_ins: list[SentryCheckIn],
    now: datetime,
    policy: OccurrencePolicy,
) -> int:
    """Apply the check-ins in the caller's transaction; how many reached a monitor."""
    applied = 0
    for check_in in check_ins:
        if check_in.config is not None:
            monitor = await service.upsert_monitor(
                session, client_id=client_id, values=check_in.config, now=now
            )
        else:
            found = await store.monitor_by_slug(session, client_id=client_id, slug=check_in.slug)
            if found is None:
                continue  # Sentry drops check-ins of monitors it does not know, too
            monitor = found
        await service.apply_check_in(
            session,
            monitor,
            service.CheckIn(
                status=check_in.status,
                source="sentry",
                check_in_id=check_in.check_in_id,
                duration_ms=check_in.duration_ms,
                environment=check_in.environment,
            ),
            now=now,
            policy=policy,
        )
        applied += 1
    return applied
