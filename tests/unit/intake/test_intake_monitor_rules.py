"""Monitor schedules (cron in a zone across DST, intervals) and the state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aftercare_intake.errors import InvalidScheduleError
from aftercare_intake.monitors.evaluation import Tally, judge_bad, judge_good, shown_state
from aftercare_intake.monitors.probes import status_matches, valid_expected_status
from aftercare_intake.monitors.schedule import Schedule

T0 = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


def test_a_daily_cron_keeps_its_local_hour_across_the_spring_dst_change() -> None:
    schedule = Schedule.checked(
        type="crontab", value="0 3 * * *", unit=None, timezone="Europe/Berlin"
    )
    first = schedule.next_after(T0)
    second = schedule.next_after(first)
    third = schedule.next_after(second)
    # 03:00 CET is 02:00 UTC; from 29 March 03:00 CEST is 01:00 UTC.
    assert first == datetime(2026, 3, 28, 2, 0, tzinfo=UTC)
    assert second == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert third == datetime(2026, 3, 30, 1, 0, tzinfo=UTC)


def test_a_time_the_autumn_change_repeats_runs_once_and_a_skipped_one_runs_after_the_gap() -> None:
    repeated = Schedule.checked(
        type="crontab", value="30 2 * * *", unit=None, timezone="Europe/Berlin"
    )
    before = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    runs = [repeated.next_after(before)]
    runs.append(repeated.next_after(runs[0]))
    runs.append(repeated.next_after(runs[1]))
    # 25 October: 02:30 happens twice locally; it runs once (the first, CEST = 00:30 UTC).
    assert runs == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 27, 1, 30, tzinfo=UTC),
    ]
    skipped = Schedule.checked(
        type="crontab", value="30 2 * * *", unit=None, timezone="Europe/Berlin"
    )
    # 29 March: 02:30 does not exist locally; the run happens at 03:00 CEST (01:00 UTC).
    assert skipped.next_after(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )


def test_intervals_add_fixed_units_and_calendar_months() -> None:
    every_five = Schedule.checked(type="interval", value=5, unit="minute", timezone="UTC")
    assert every_five.next_after(T0) == T0 + timedelta(minutes=5)
    monthly = Schedule.checked(type="interval", value=1, unit="month", timezone="UTC")
    assert monthly.next_after(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("type_", "value", "unit", "zone", "field"),
    [
        ("crontab", "61 * * * *", None, "UTC", "schedule.value"),
        ("crontab", "every day", None, "UTC", "schedule.value"),
        ("crontab", "0 3 * * *", None, "Mars/Olympus", "timezone"),
        ("interval", 0, "minute", "UTC", "schedule.value"),
        ("interval", 5, None, "UTC", "schedule.unit"),
        ("interval", 100_000, "month", "UTC", "schedule.value"),
        ("interval", 300, "week", "UTC", "schedule.value"),
    ],
)
def test_a_schedule_that_cannot_be_evaluated_is_refused_naming_the_field(
    type_: str, value: str | int, unit: str | None, zone: str, field: str
) -> None:
    with pytest.raises(InvalidScheduleError) as refused:
        Schedule.checked(type=type_, value=value, unit=unit, timezone=zone)  # type: ignore[arg-type]
    assert refused.value.extensions["field"] == field


def _tally(**changes: object) -> Tally:
    base = {
        "state": "ok",
        "consecutive_failures": 0,
        "consecutive_successes": 0,
        "incident_open": False,
        "failing_since": None,
    }
    return Tally(**{**base, **changes})  # type: ignore[arg-type]


def test_the_failure_threshold_opens_once_and_later_failures_only_count() -> None:
    first = judge_bad(_tally(), reason="missed", at=T0, failure_threshold=2)
    assert not first.open_incident
    assert first.tally.state == "missed"
    second = judge_bad(
        first.tally, reason="failed", at=T0 + timedelta(hours=1), failure_threshold=2
    )
    assert second.open_incident
    assert second.tally.failing_since == T0
    assert second.tally.state == "failing"
    third = judge_bad(second.tally, reason="timed_out", at=T0, failure_threshold=2)
    assert third.count_occurrence
    assert not third.open_incident
    assert third.tally.state == "timed_out"


def test_the_recovery_threshold_counts_good_outcomes_in_a_row() -> None:
    failing = _tally(state="failing", consecutive_failures=3, incident_open=True, failing_since=T0)
    once = judge_good(failing, recovery_threshold=2)
    assert not once.recover
    assert once.tally.incident_open
    assert once.tally.state == "failing"
    relapse = judge_bad(once.tally, reason="failed", at=T0, failure_threshold=1)
    assert relapse.count_occurrence
    assert relapse.tally.consecutive_successes == 0
    good = judge_good(judge_good(relapse.tally, recovery_threshold=2).tally, recovery_threshold=2)
    assert good.recover
    assert good.tally.state == "ok"
    assert not good.tally.incident_open


def test_late_is_shown_between_the_expected_time_and_the_deadline_and_paused_wins() -> None:
    assert (
        shown_state("ok", paused=False, next_expected_at=T0, now=T0 + timedelta(seconds=1))
        == "late"
    )
    assert shown_state("ok", paused=False, next_expected_at=T0, now=T0) == "ok"
    assert shown_state("missed", paused=True, next_expected_at=T0, now=T0) == "paused"


def test_expected_status_classes_and_codes() -> None:
    assert status_matches("2xx", 204)
    assert not status_matches("2xx", 500)
    assert status_matches("301", 301)
    assert not valid_expected_status("9xx")
    assert valid_expected_status("404")
