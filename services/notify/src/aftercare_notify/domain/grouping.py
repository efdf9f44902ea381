"""Grouping and digests, Alertmanager-style: many events, one message.

An endpoint with ``group_by`` (a list of event fields, possibly empty) does not get a
delivery per event. Each event joins the endpoint's *group* for the event's values of
those fields (``{"client_id": "c1", "type": "sla.at_risk"}``); the group is sent as one
digest message:

- the first message of a group waits ``group_wait`` after its first event (more events
  of a storm arrive meanwhile);
- every later message waits ``group_interval`` after the group's previous one;
- one message lists at most ``group_max_events`` events; more make several messages
  of the same flush.

Quiet hours compose: an event an endpoint holds (``deliver: "business_hours"``) joins
its group as it arrives but counts as *released* only when the calendar opens, as if
it had arrived then; a digest lists released events only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar, get_args

T = TypeVar("T")

GroupField = Literal["client_id", "type", "priority", "environment", "subject"]
GROUP_FIELDS: tuple[GroupField, ...] = get_args(GroupField)

# Alertmanager's defaults: half a minute to gather a storm, five minutes between updates.
DEFAULT_GROUP_WAIT_SECONDS = 30
DEFAULT_GROUP_INTERVAL_SECONDS = 300
DEFAULT_GROUP_MAX_EVENTS = 100
MAX_GROUP_WAIT_SECONDS = 86_400
MAX_GROUP_INTERVAL_SECONDS = 86_400
MAX_GROUP_MAX_EVENTS = 1_000

# The type of a digest message: not a catalog event, never subscribable or streamed.
DIGEST_EVENT_TYPE = "aftercare.notify.digest"
DIGEST_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class Grouping:
    """An endpoint's grouping settings; ``group_by`` None: no grouping (the default)."""

    group_by: Sequence[str] | None = None
    wait_seconds: int | None = None
    interval_seconds: int | None = None
    max_events: int | None = None


NO_GROUPING = Grouping()


def grouping_problem(grouping: Grouping) -> tuple[str, str] | None:
    """(field, why) when the settings do not fit together; None when they do."""
    if grouping.group_by is not None:
        seen: set[str] = set()
        for name in grouping.group_by:
            if name not in GROUP_FIELDS:
                return "group_by", f"{name!r} is not a field events are grouped by."
            if name in seen:
                return "group_by", f"{name!r} is named twice."
            seen.add(name)
        return None
    timings = (
        ("group_wait_seconds", grouping.wait_seconds),
        ("group_interval_seconds", grouping.interval_seconds),
        ("group_max_events", grouping.max_events),
    )
    for field, value in timings:
        if value is not None:
            return field, f"`{field}` applies to grouping endpoints only: set `group_by` too."
    return None


def group_labels(
    group_by: Sequence[str], *, values: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The group an event joins: its values of the ``group_by`` fields."""
    return {name: values.get(name) for name in group_by}


def next_flush_at(
    *,
    earliest_released_at: datetime | None,
    last_flushed_at: datetime | None,
    group_wait: timedelta,
    group_interval: timedelta,
) -> datetime | None:
    """When a group with events released from ``earliest_released_at`` is next sent.

    None when nothing waits. The first message waits ``group_wait`` after the first
    event; a later one at least ``group_interval`` after the previous message.
    """
    if earliest_released_at is None:
        return None
    due = earliest_released_at + group_wait
    if last_flushed_at is not None:
        due = max(due, last_flushed_at + group_interval)
    return due


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (each one digest message)."""
    return [items[start : start + size] for start in range(0, len(items), size)]
