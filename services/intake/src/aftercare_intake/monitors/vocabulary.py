"""The closed sets of words monitors store (CHECK constraints are built from these)."""

from __future__ import annotations

from typing import Literal, get_args

CheckInStatus = Literal["in_progress", "ok", "error", "missed", "timed_out"]
"""What a check-in said, or what the timer recorded in its place (missed, timed_out)."""
CHECK_IN_STATUSES: tuple[CheckInStatus, ...] = get_args(CheckInStatus)
ReportedStatus = Literal["in_progress", "ok", "error"]
"""What a client system may report (the rest is the timer's)."""

CheckInSource = Literal["api", "ping", "sentry", "timer"]
CHECK_IN_SOURCES: tuple[CheckInSource, ...] = get_args(CheckInSource)

HttpMethod = Literal["GET", "HEAD"]
HTTP_METHODS: tuple[HttpMethod, ...] = get_args(HttpMethod)

ProbeOutcome = Literal["up", "http_status", "body_mismatch", "timeout", "connection_error"]
PROBE_OUTCOMES: tuple[ProbeOutcome, ...] = get_args(ProbeOutcome)
