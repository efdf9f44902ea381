"""The monitor state machine, free of I/O: what one outcome does to a monitor.

An outcome is good (a successful check-in, an answering probe) or bad with a reason
(missed, timed out, failed…). Bad outcomes in a row count towards ``failure_threshold``:
reaching it opens an incident (a ticket, ``monitor.failed``); while the incident is open,
each further bad outcome is one more occurrence on its ticket. Good outcomes in a row
count towards ``recovery_threshold``: reaching it ends the incident (the ticket resolves
with reason ``recovered``, ``monitor.recovered``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

MonitorState = Literal["new", "ok", "late", "missed", "failing", "timed_out", "paused"]
MONITOR_STATES: tuple[MonitorState, ...] = get_args(MonitorState)
StoredState = Literal["new", "ok", "missed", "failing", "timed_out"]
"""What is stored; ``late`` and ``paused`` are derived when a monitor is read."""
STORED_STATES: tuple[StoredState, ...] = get_args(StoredState)

FailureReason = Literal[
    "missed",
    "timed_out",
    "failed",
    "http_status",
    "body_mismatch",
    "timeout",
    "connection_error",
]
FAILURE_REASONS: tuple[FailureReason, ...] = get_args(FailureReason)

_STATE_OF_REASON: dict[FailureReason, StoredState] = {
    "missed": "missed",
    "timed_out": "timed_out",
}


@dataclass(frozen=True, slots=True)
class Tally:
    """The part of a monitor the state machine reads and writes."""

    state: StoredState
    consecutive_failures: int
    consecutive_successes: int
    incident_open: bool
    failing_since: datetime | None
    """The first bad outcome of the current run of bad ones (None after a good one, unless
    an incident is still open)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    tally: Tally
    open_incident: bool = False
    """The threshold was just reached: open the incident (ticket, ``monitor.failed``)."""
    count_occurrence: bool = False
    """A further bad outcome while the incident is open: one more occurrence on its ticket."""
    recover: bool = False
    """The recovery threshold was just reached: resolve the ticket, ``monitor.recovered``."""


def judge_bad(
    tally: Tally, *, reason: FailureReason, at: datetime, failure_threshold: int
) -> Verdict:
    failures = tally.consecutive_failures + 1
    after = Tally(
        state=_STATE_OF_REASON.get(reason, "failing"),
        consecutive_failures=failures,
        consecutive_successes=0,
        incident_open=tally.incident_open or failures >= failure_threshold,
        failing_since=tally.failing_since or at,
    )
    if tally.incident_open:
        return Verdict(after, count_occurrence=True)
    return Verdict(after, open_incident=after.incident_open)


def judge_good(tally: Tally, *, recovery_threshold: int) -> Verdict:
    successes = tally.consecutive_successes + 1
    if not tally.incident_open:
        return Verdict(
            Tally(
                state="ok",
                consecutive_failures=0,
                consecutive_successes=successes,
                incident_open=False,
                failing_since=None,
            )
        )
    recovered = successes >= recovery_threshold
    return Verdict(
        Tally(
            state="ok" if recovered else tally.state,
            consecutive_failures=0,
            consecutive_successes=successes,
            incident_open=not recovered,
            failing_since=None if recovered else tally.failing_since,
        ),
        recover=recovered,
    )


def shown_state(
    stored: StoredState, *, paused: bool, next_expected_at: datetime | None, now: datetime
) -> MonitorState:
    """The state an answer shows: paused wins; a monitor past its expected time but still
    within its margin is ``late``."""
    if paused:
        return "paused"
    if stored in ("new", "ok") and next_expected_at is not None and now > next_expected_at:
        return "late"
    return stored
