"""Parsing and applying the webhook retry schedule, and the settings that carry it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from aftercare_notify.domain.retry_schedule import DEFAULT_RETRY_SCHEDULE, parse_retry_schedule
from aftercare_notify.settings import NotifySettings
from aftercare_shared.settings import CommonSettings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_default_schedule_is_the_documented_one() -> None:
    schedule = parse_retry_schedule(DEFAULT_RETRY_SCHEDULE)
    assert schedule.delays_seconds == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert schedule.max_attempts == 8


def test_compressed_schedule_for_tests() -> None:
    assert parse_retry_schedule(" 0, 0.2 ,0.2").delays_seconds == (0.0, 0.2, 0.2)


@pytest.mark.parametrize(
    "bad",
    ["", " ", "0,,5", "0,5,", "a,b", "-1", "nan", "inf", "0;5", "700000", ",".join(["1"] * 51)],
)
def test_invalid_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="retry schedule"):
        parse_retry_schedule(bad)


def test_due_times_follow_the_schedule_then_stop() -> None:
    schedule = parse_retry_schedule("0,5,300")
    assert schedule.first_due_at(NOW) == NOW
    assert schedule.next_due_at(attempts_made=1, now=NOW) == NOW + timedelta(seconds=5)
    assert schedule.next_due_at(attempts_made=2, now=NOW) == NOW + timedelta(seconds=300)
    assert schedule.next_due_at(attempts_made=3, now=NOW) is None
    assert schedule.next_due_at(attempts_made=9, now=NOW) is None
    with pytest.raises(ValueError, match="attempts_made"):
        schedule.next_due_at(attempts_made=0, now=NOW)


def _common() -> CommonSettings:
    return CommonSettings(admin_token="unit-test-admin-token-0123456789")


def test_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_RETRY_SCHEDULE", "0,0.1")
    monkeypatch.setenv("NOTIFY_SSRF_ALLOWLIST", "127.0.0.0/8, ::1/128")
    settings = NotifySettings(common=_common())
    assert settings.parsed_retry_schedule.delays_seconds == (0.0, 0.1)
    assert len(settings.parsed_ssrf_allowlist) == 2
    assert settings.consumer_group == "aftercare-notify"
    assert settings.disable_after_seconds == 432_000
    assert settings.secret_rotation_overlap_seconds == 86_400
    assert settings.delivery_timeout_seconds == 15
    assert settings.response_body_max_bytes == 1024


@pytest.mark.parametrize(
    "overrides",
    [
        {"retry_schedule": "0,five"},
        {"ssrf_allowlist": "10.0.0.0/8,not-a-cidr"},
        {"delivery_lease_seconds": 1},
    ],
)
def test_bad_settings_are_refused_at_start(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NotifySettings(common=_common(), **overrides)  # type: ignore[arg-type]
