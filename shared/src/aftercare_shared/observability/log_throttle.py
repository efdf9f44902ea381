"""Repeated library warnings, aggregated: one line per kind per window, with a count.

While Kafka is away, aiokafka logs "Unable connect to node …" for every reconnect attempt
of every client (1,000 to 2,000 ERROR lines per service in 45 s). The first line of a kind
says what is wrong; the rest only bury other lines. :class:`RepeatedLineFilter` lets the
first record of each (logger, message template) through, drops the repeats for
``window_seconds``, and adds to the next one that passes how many it dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

THROTTLED_LOGGER_PREFIXES = ("aiokafka", "kafka")


@dataclass(slots=True)
class _Window:
    opened_at: float
    suppressed: int = 0


class RepeatedLineFilter(logging.Filter):
    def __init__(
        self,
        *,
        window_seconds: float = 30.0,
        prefixes: tuple[str, ...] = THROTTLED_LOGGER_PREFIXES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._window_seconds = window_seconds
        self._prefixes = prefixes
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self._prefixes):
            return True
        # The template, not the formatted text: "node 1" and "node 2" are the same trouble.
        key = (record.name, str(record.msg))
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.opened_at < self._window_seconds:
                window.suppressed += 1
                return False
            suppressed = window.suppressed if window is not None else 0
            self._windows[key] = _Window(opened_at=now)
        if suppressed:
            record.msg = f"{record.msg} [{suppressed} similar lines suppressed in the last window]"
        return True


def throttle_repeated_library_lines(*, window_seconds: float = 30.0) -> None:
    """Install the filter on the root handlers (child loggers' records reach only those)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, RepeatedLineFilter) for existing in handler.filters):
            handler.addFilter(RepeatedLineFilter(window_seconds=window_seconds))
