"""Reading ``Retry-After`` (RFC 9110 §10.2.3): delay in seconds, or an HTTP date."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

from aftercare_shared.clock import utc_now

# One answer may not park a delivery for longer than a day.
MAX_RETRY_AFTER_SECONDS = 86_400.0


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """How long the receiver asked us to wait, capped; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    wait = (when - (now or utc_now())).total_seconds()
    return max(0.0, min(wait, MAX_RETRY_AFTER_SECONDS))
