"""When a webhook delivery is attempted: the first attempt, then each retry.

The schedule is a list of delays in seconds, one per attempt: the first is the delay
before the first attempt (normally 0), each following one the wait after the previous
failure. ``"0,5,300"`` means: now, 5 s after the first failure, 5 min after the second;
a third failure is final.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_RETRY_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"
MAX_ATTEMPTS = 50
MAX_DELAY_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    delays_seconds: tuple[float, ...]

    @property
    def max_attempts(self) -> int:
        return len(self.delays_seconds)

    def first_due_at(self, now: datetime) -> datetime:
        """When the first attempt of a new delivery is due."""
        return now + timedelta(seconds=self.delays_seconds[0])

    def next_due_at(self, *, attempts_made: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts_made`` attempts failed; None once exhausted."""
        if attempts_made < 1:
            raise ValueError("attempts_made counts attempts already made (at least 1)")
        if attempts_made >= self.max_attempts:
            return None
        return now + timedelta(seconds=self.delays_seconds[attempts_made])


def parse_retry_schedule(text: str) -> RetrySchedule:
    """Parse ``"0,5,300"``; raises ValueError saying what is wrong with it."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise ValueError(
            "retry schedule must be comma-separated seconds, e.g. "
            f"{DEFAULT_RETRY_SCHEDULE!r} (no empty entries)"
        )
    if len(parts) > MAX_ATTEMPTS:
        raise ValueError(f"retry schedule allows at most {MAX_ATTEMPTS} attempts")
    delays: list[float] = []
    for part in parts:
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f"retry schedule entry {part!r} is not a number of seconds") from None
        if not math.isfinite(delay) or delay < 0 or delay > MAX_DELAY_SECONDS:
            raise ValueError(
                f"retry schedule entry {part!r} must be between 0 and {MAX_DELAY_SECONDS:g} s"
            )
        delays.append(delay)
    return RetrySchedule(tuple(delays))
