"""W3C ``traceparent`` propagation: HTTP request → outbox row → Kafka header → next service.

We keep only what correlation needs (trace id + a span id per hop); a full OpenTelemetry
SDK can replace this later without changing the wire format.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

import structlog

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_current: ContextVar[str | None] = ContextVar("aftercare_traceparent", default=None)


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def parse_trace_id(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    match = _TRACEPARENT.match(traceparent.strip().lower())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1)


def child_traceparent(incoming: str | None) -> str:
    """Continue the caller's trace with a new span, or start a trace when there is none."""
    return new_traceparent(parse_trace_id(incoming))


def bind_traceparent(incoming: str | None) -> str:
    """Make ``incoming``'s trace the current one (for logs and outgoing events)."""
    traceparent = child_traceparent(incoming)
    _current.set(traceparent)
    structlog.contextvars.bind_contextvars(trace_id=parse_trace_id(traceparent))
    return traceparent


def current_traceparent() -> str | None:
    return _current.get()


def clear_trace() -> None:
    _current.set(None)
    structlog.contextvars.unbind_contextvars("trace_id")
