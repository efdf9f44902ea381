"""What one report or Sentry event is once read: the shape grouping and filing work on.

Framework-free. A REST report and a Sentry event both become an :class:`Occurrence`; the
ticket is opened or counted from it, and its :attr:`Occurrence.details` are what the
occurrence samples keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aftercare_shared.events.catalog import Severity


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame, as much as the reporter said about it."""

    function: str | None = None
    module: str | None = None
    filename: str | None = None
    lineno: int | None = None
    in_app: bool | None = None


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """One exception of a chain: its type, value and stack (oldest frame first)."""

    type: str | None
    value: str | None
    frames: tuple[Frame, ...] = ()
    module: str | None = None


@dataclass(frozen=True, slots=True)
class Occurrence:
    title: str
    severity: Severity
    fingerprint: str
    kind: str | None = None
    description: str | None = None
    environment: str | None = None
    release: str | None = None
    platform: str | None = None
    stacktrace: str | None = None
    """A readable stack for the ticket (the REST field, or rendered from the event)."""
    context: dict[str, Any] | None = None
    """The REST report's ``context`` (kept on the ticket as before)."""
    event_id: str | None = None
    project_id: int | None = None
    occurred_at: datetime | None = None
    level: str | None = None
    server_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Everything kept for this occurrence's sample (JSON)."""
