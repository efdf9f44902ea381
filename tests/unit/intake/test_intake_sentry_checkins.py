"""Sentry ``check_in`` items read into check-ins: fields, configs, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from aftercare_intake.errors import (
    InvalidMonitorError,
    InvalidScheduleError,
    MalformedEnvelopeError,
)
from aftercare_intake.monitors.sentry_checkins import read_check_in


def _item(**fields: Any) -> dict[str, Any]:
    return {"check_in_id": "c0ffee", "monitor_slug": "nightly", "status": "ok", **fields}


def test_a_finished_check_in_with_a_config() -> None:
    check_in = read_check_in(
        _item(
            duration=1.25,
            environment="production",
            monitor_config={
                "schedule": {"type": "interval", "value": 2, "unit": "hour"},
                "checkin_margin": 3,
                "max_runtime": 15,
                "failure_issue_threshold": 2,
                "recovery_threshold": 3,
                "timezone": "America/New_York",
            },
        )
    )
    assert (check_in.slug, check_in.status, check_in.check_in_id) == ("nightly", "ok", "c0ffee")
    assert check_in.duration_ms == 1250
    assert check_in.environment == "production"
    config = check_in.config
    assert config is not None
    assert (config.schedule_type, config.schedule_value, config.schedule_unit) == (
        "interval",
        2,
        "hour",
    )
    assert (config.checkin_margin_minutes, config.max_runtime_minutes) == (3, 15)
    assert (config.failure_threshold, config.recovery_threshold) == (2, 3)
    assert config.timezone == "America/New_York"
    assert config.environment == "production"


def test_a_check_in_without_a_config_upserts_nothing() -> None:
    assert read_check_in(_item(status="in_progress")).config is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"monitor_slug": None}, MalformedEnvelopeError),
        ({"status": "timeout"}, MalformedEnvelopeError),
        ({"duration": "long"}, MalformedEnvelopeError),
        ({"duration": 1e300}, MalformedEnvelopeError),
        ({"duration": -1}, MalformedEnvelopeError),
        ({"monitor_config": []}, MalformedEnvelopeError),
        (
            {"monitor_config": {"schedule": {"type": "crontab", "value": "* * *"}}},
            InvalidScheduleError,
        ),
        (
            {
                "monitor_config": {
                    "schedule": {"type": "crontab", "value": "0 3 * * *"},
                    "timezone": "Nowhere/Else",
                }
            },
            InvalidScheduleError,
        ),
        (
            {"monitor_config": {"schedule": {"type": "interval", "value": 5, "unit": "fortnight"}}},
            InvalidMonitorError,
        ),
        ({"monitor_config": {"schedule": {"type": "solar"}}}, InvalidMonitorError),
        (
            {
                "monitor_config": {
                    "schedule": {"type": "interval", "value": 5, "unit": "minute"},
                    "max_runtime": 0,
                }
            },
            InvalidMonitorError,
        ),
    ],
)
def test_a_check_in_that_cannot_be_read_is_refused(
    fields: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        read_check_in(_item(**fields))
