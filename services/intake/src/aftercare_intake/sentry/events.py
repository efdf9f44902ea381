"""What a Sentry event becomes in Aftercare: one occurrence of a ticket.

- ``exception.values[]`` (type, value, ``stacktrace.frames[]`` with ``in_app``, module,
  function, filename, lineno): the occurrence's exception chain, its grouping, the
  ticket's readable stack and ``kind`` (the outermost type);
- ``logentry`` (``message``/``formatted``) or ``message``: title and grouping when there
  is no exception;
- ``level``: severity — fatal → critical, error → high, warning → medium, info/debug → low;
- ``platform``, ``environment``, ``release``, ``server_name``: kept; ``release`` as
  ``package@1.2.3`` gives product and version for regressions;
- ``tags``, ``user``, ``contexts``, ``sdk`` (name, version), ``request`` (method, url),
  ``transaction``, ``logger``: kept in the occurrence's details;
- ``fingerprint``: the explicit grouping key (``{{ default }}`` honoured);
- ``event_id``, ``timestamp``: the occurrence's id and time.

The title is what Sentry shows: ``ExceptionType: value`` of the outermost exception, else
the message. Fields of the wrong type are ignored rather than refused: SDKs differ, and
an event is worth keeping even when one field is odd. Framework-free.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aftercare_intake import grouping
from aftercare_intake.occurrence import ExceptionRecord, Frame, Occurrence
from aftercare_shared.events.catalog import Severity

LEVEL_TO_SEVERITY: dict[str, Severity] = {
    "fatal": "critical",
    "critical": "critical",
    "error": "high",
    "warning": "medium",
    "warn": "medium",
    "info": "low",
    "log": "low",
    "debug": "low",
}
DEFAULT_LEVEL = "error"  # Sentry's default for an event without a level

MAX_TITLE = 500
MAX_FRAMES_KEPT = 250  # per exception, the most recent ones
MAX_TEXT = 8_192
NO_MESSAGE = "<no message>"


def _text(value: object, limit: int = MAX_TEXT) -> str | None:
    if isinstance(value, str):
        return value[:limit] if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _object(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and value else None


def _frame(raw: object) -> Frame | None:
    if not isinstance(raw, dict):
        return None
    lineno = raw.get("lineno")
    in_app = raw.get("in_app")
    return Frame(
        function=_text(raw.get("function"), 500),
        module=_text(raw.get("module"), 500),
        filename=_text(raw.get("filename"), 1000) or _text(raw.get("abs_path"), 1000),
        lineno=lineno if type(lineno) is int else None,
        in_app=in_app if isinstance(in_app, bool) else None,
    )


def _exceptions(event: dict[str, Any]) -> list[ExceptionRecord]:
    container = event.get("exception")
    values = container.get("values") if isinstance(container, dict) else container
    if not isinstance(values, list):
        return []
    chain: list[ExceptionRecord] = []
    for raw in values:
        if not isinstance(raw, dict):
            continue
        stacktrace = raw.get("stacktrace")
        raw_frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
        frames = [
            frame
            for frame in map(_frame, raw_frames if isinstance(raw_frames, list) else [])
            if frame is not None
        ]
        exception_type, value = _text(raw.get("type"), 500), _text(raw.get("value"))
        if exception_type is None and value is None and not frames:
            continue
        chain.append(
            ExceptionRecord(
                type=exception_type,
                value=value,
                frames=tuple(frames[-MAX_FRAMES_KEPT:]),
                module=_text(raw.get("module"), 500),
            )
        )
    return chain


def _message(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the message as shown, the template to group by) from ``logentry`` or ``message``."""
    for field in ("logentry", "message"):
        raw = event.get(field)
        if isinstance(raw, dict):
            template = _text(raw.get("message"))
            shown = _text(raw.get("formatted")) or template
            if shown:
                return shown, template or shown
        elif (text := _text(raw)) is not None:
            return text, text
    return None, None


def _tags(raw: object) -> dict[str, str] | None:
    """Tags as SDKs send them: an object, or a list of ``[key, value]`` pairs."""
    pairs: list[tuple[object, object]] = []
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [(pair[0], pair[1]) for pair in raw if isinstance(pair, list) and len(pair) == 2]
    tags = {str(key)[:200]: text for key, value in pairs if (text := _text(value, 200)) is not None}
    return tags or None


def _title(chain: list[ExceptionRecord], message: str | None) -> str:
    if chain:
        outermost = chain[-1]
        head = outermost.type or "Error"
        value = (outermost.value or "").strip()
        title = f"{head}: {value}" if value else head
    else:
        title = message or NO_MESSAGE
    first_line = title.strip().splitlines()[0] if title.strip() else NO_MESSAGE
    return first_line[:MAX_TITLE]


def _readable_stack(chain: list[ExceptionRecord]) -> str | None:
    """The chain as text for the ticket (innermost call last, as tracebacks print)."""
    lines: list[str] = []
    for exception in chain:
        for frame in exception.frames:
            where = frame.module or frame.filename or "?"
            line = f":{frame.lineno}" if frame.lineno is not None else ""
            app = "" if frame.in_app is not False else "  (library)"
            lines.append(f"  {where}{line} in {frame.function or '?'}{app}")
        lines.append(f"{exception.type or 'Error'}: {exception.value or ''}".rstrip(": "))
    return "\n".join(lines)[:200_000] if lines else None


def _timestamp(raw: object) -> datetime | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return datetime.fromtimestamp(raw, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _event_id(raw: object) -> str:
    """Sentry ids are 32 hex digits (dashes allowed); a missing or odd one gets a fresh id."""
    if isinstance(raw, str):
        try:
            return uuid.UUID(raw).hex
        except ValueError:
            pass
    return uuid.uuid4().hex


def _fingerprint_parts(raw: object) -> list[str] | None:
    if not isinstance(raw, list):
        return None
    return [text for part in raw if (text := _text(part, 500)) is not None] or None


def _request(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    kept = {key: _text(raw.get(key), 2_000) for key in ("method", "url")}
    return {key: value for key, value in kept.items() if value is not None} or None


def _frame_details(frame: Frame) -> dict[str, Any]:
    return {
        key: value
        for key, value in (
            ("function", frame.function),
            ("module", frame.module),
            ("filename", frame.filename),
            ("lineno", frame.lineno),
            ("in_app", frame.in_app),
        )
        if value is not None
    }


def occurrence_from_event(
    event: dict[str, Any], *, project_id: int, event_id: str | None = None
) -> Occurrence:
    """Map one Sentry event payload (already a JSON object) to an occurrence."""
    chain = _exceptions(event)
    shown_message, message_template = _message(event)
    level = (_text(event.get("level"), 20) or DEFAULT_LEVEL).lower()
    sdk = _object(event.get("sdk"))
    details: dict[str, Any] = {
        "exceptions": [
            {
                "type": exception.type,
                "value": exception.value,
                "module": exception.module,
                "frames": [_frame_details(frame) for frame in exception.frames],
            }
            for exception in chain
        ],
        "message": shown_message,
        "level": level,
        "platform": _text(event.get("platform"), 64),
        "logger": _text(event.get("logger"), 200),
        "transaction": _text(event.get("transaction"), 500),
        "server_name": _text(event.get("server_name"), 200),
        "tags": _tags(event.get("tags")),
        "user": _object(event.get("user")),
        "contexts": _object(event.get("contexts")),
        "request": _request(event.get("request")),
        "sdk": {"name": _text(sdk.get("name"), 200), "version": _text(sdk.get("version"), 100)}
        if sdk
        else None,
        "fingerprint": _fingerprint_parts(event.get("fingerprint")),
    }
    kind = chain[-1].type if chain else None
    return Occurrence(
        title=_title(chain, shown_message),
        severity=LEVEL_TO_SEVERITY.get(level, "high"),
        fingerprint=grouping.fingerprint(
            explicit=details["fingerprint"],
            exceptions=chain,
            message=message_template,
            kind=kind,
        ),
        kind=kind,
        environment=_text(event.get("environment"), 100),
        release=_text(event.get("release"), 200),
        platform=details["platform"],
        stacktrace=_readable_stack(chain),
        event_id=_event_id(event.get("event_id") or event_id),
        project_id=project_id,
        occurred_at=_timestamp(event.get("timestamp")),
        level=level,
        server_name=details["server_name"],
        details={key: value for key, value in details.items() if value not in (None, [], {})},
    )
