"""What an attempt's result does to the delivery and its endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aftercare_notify.domain.delivery_policy import AttemptResult, decide
from aftercare_notify.domain.retry_schedule import parse_retry_schedule

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCHEDULE = parse_retry_schedule("0,5,300")
FIVE_DAYS = timedelta(days=5)


def _result(status_code: int | None, error: str | None = None) -> AttemptResult:
    return AttemptResult(status_code, 12, "body", error)


def test_2xx_succeeds_and_ends_the_failure_streak() -> None:
    decision = decide(
        result=_result(204),
        attempts_made=2,
        schedule=SCHEDULE,
        now=NOW,
        first_failure_at=NOW - timedelta(hours=1),
        disable_after=FIVE_DAYS,
    )
    assert decision.delivery_status == "succeeded"
    assert decision.endpoint_first_failure_at is None
    assert decision.disable_endpoint_reason is None


def test_failure_retries_on_schedule_and_starts_a_streak() -> None:
    decision = decide(
        result=_result(500),
        attempts_made=1,
        schedule=SCHEDULE,
        now=NOW,
        first_failure_at=None,
        disable_after=FIVE_DAYS,
    )
    assert decision.delivery_status == "pending"
    assert decision.next_due_at == NOW + timedelta(seconds=5)
    assert decision.endpoint_first_failure_at == NOW


def test_last_attempt_failing_is_final() -> None:
    decision = decide(
        result=_result(None, "timeout: no complete response within 15 s"),
        attempts_made=3,
        schedule=SCHEDULE,
        now=NOW,
        first_failure_at=NOW - timedelta(minutes=6),
        disable_after=FIVE_DAYS,
    )
    assert decision.delivery_status == "failed"
    assert decision.next_due_at is None
    assert decision.endpoint_first_failure_at == NOW - timedelta(minutes=6)
    assert decision.disable_endpoint_reason is None


def test_410_gone_fails_at_once_and_disables_the_endpoint() -> None:
    decision = decide(
        result=_result(410),
        attempts_made=1,
        schedule=SCHEDULE,
        now=NOW,
        first_failure_at=None,
        disable_after=FIVE_DAYS,
    )
    assert decision.delivery_status == "failed"
    assert decision.disable_endpoint_reason is not None
    assert "410" in decision.disable_endpoint_reason


def test_failing_for_too_long_disables_the_endpoint() -> None:
    decision = decide(
        result=_result(503),
        attempts_made=1,
        schedule=SCHEDULE,
        now=NOW,
        first_failure_at=NOW - FIVE_DAYS,
        disable_after=FIVE_DAYS,
    )
    assert decision.delivery_status == "failed"
    assert decision.disable_endpoint_reason is not None


def test_a_redirect_is_a_failure_even_with_a_status_code() -> None:
    redirect = _result(302, "redirect not followed: HTTP 302 to https://elsewhere/")
    assert not redirect.succeeded
    assert redirect.describe_failure().startswith("redirect not followed")
    assert _result(500).describe_failure() == "HTTP 500"
