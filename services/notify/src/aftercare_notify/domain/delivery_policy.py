"""What one delivery attempt's result means for the delivery and for its endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aftercare_notify.domain.retry_schedule import RetrySchedule
from aftercare_notify.domain.statuses import DeliveryStatus

HTTP_GONE = 410


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What happened when we called the endpoint once."""

    status_code: int | None
    """The HTTP status, or the SMTP reply code for e-mail."""
    latency_ms: int | None
    response_body: str | None
    error: str | None
    accepted: bool | None = None
    """Set by channels whose success is not an HTTP 2xx (SMTP): whether it was taken."""
    permanent: bool = False
    """The receiver refused for good (an SMTP 5xx): retrying cannot help."""
    retry_after_seconds: float | None = None
    """The receiver asked us to wait this long (``Retry-After`` on a 429 or 503)."""
    unreachable: bool = False
    """No answer at all (connect failure or timeout): what circuit breakers count."""

    @property
    def succeeded(self) -> bool:
        if self.error is not None:
            return False
        if self.accepted is not None:
            return self.accepted
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.error is None and self.status_code == HTTP_GONE

    def describe_failure(self) -> str:
        """A one-line reason, for ``last_error`` and the ``notification.failed`` event."""
        if self.error is not None:
            return self.error
        return f"HTTP {self.status_code}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The delivery's next state and what happens to its endpoint."""

    delivery_status: DeliveryStatus
    next_due_at: datetime | None
    endpoint_first_failure_at: datetime | None
    disable_endpoint_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.delivery_status != "pending"


def decide(
    *,
    result: AttemptResult,
    attempts_made: int,
    schedule: RetrySchedule,
    now: datetime,
    first_failure_at: datetime | None,
    disable_after: timedelta,
) -> Decision:
    """Apply the webhook rules.

    2xx: delivered, and the endpoint's failure streak ends. 410: the receiver says the
    endpoint is gone — stop now and disable it. Anything else: retry on the schedule,
    final after the last attempt; an endpoint failing without a single success for
    ``disable_after`` is disabled.
    """
    if result.succeeded:
        return Decision("succeeded", None, endpoint_first_failure_at=None)
    streak_started_at = first_failure_at or now
    if result.gone:
        return Decision(
            "failed",
            None,
            endpoint_first_failure_at=streak_started_at,
            disable_endpoint_reason="the endpoint answered 410 Gone",
        )
    if result.permanent:
        # Refused for good (an SMTP 5xx): this delivery stops, the endpoint stays.
        return Decision("failed", None, endpoint_first_failure_at=streak_started_at)
    if now - streak_started_at >= disable_after:
        return Decision(
            "failed",
            None,
            endpoint_first_failure_at=streak_started_at,
            disable_endpoint_reason=(
                f"every delivery failed since {streak_started_at.isoformat()} "
                f"(disabled after {disable_after.total_seconds():g} s of failures)"
            ),
        )
    next_due_at = schedule.next_due_at(attempts_made=attempts_made, now=now)
    if next_due_at is None:
        return Decision("failed", None, endpoint_first_failure_at=streak_started_at)
    if result.retry_after_seconds is not None:
        # The receiver said when it can take more (429/503 Retry-After): never sooner.
        next_due_at = max(next_due_at, now + timedelta(seconds=result.retry_after_seconds))
    return Decision("pending", next_due_at, endpoint_first_failure_at=streak_started_at)
