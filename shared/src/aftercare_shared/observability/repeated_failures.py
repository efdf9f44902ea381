"""Background workers' repeated failures, aggregated: one traceback per kind per window.

While Postgres restarts or Kafka is away, every round of a periodic job, every relay
retry and every supervised worker restart fails the same way. The first failure of a
kind (the log event plus the exception's class) is logged with its traceback; the
repeats inside ``window_seconds`` are only counted, and the first failure after the
window carries that count (``repeated``). When the worker succeeds again after
suppressed failures, one INFO line says how many there were.

The library-line counterpart, for aiokafka's own reconnect lines, is
:mod:`aftercare_shared.observability.log_throttle`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

DEFAULT_WINDOW_SECONDS = 30.0


@dataclass(slots=True)
class _Window:
    opened_at: float
    suppressed: int = 0


class RepeatedFailureLog:
    """Log a worker's failures through ``logger``, one traceback per kind per window."""

    def __init__(
        self,
        logger: Any,
        *,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._failures_since_success = 0

    def exception(self, event: str, error: BaseException, **fields: Any) -> bool:
        """Log ``error`` (with its traceback) unless its kind was logged within the window;
        True when a line was written."""
        self._failures_since_success += 1
        key = (event, type(error).__qualname__)
        now = self._clock()
        window = self._windows.get(key)
        if window is not None and now - window.opened_at < self._window_seconds:
            window.suppressed += 1
            return False
        self._windows[key] = _Window(opened_at=now)
        if window is not None and window.suppressed:
            fields["repeated"] = window.suppressed
            fields["repeated_within_seconds"] = self._window_seconds
        self._logger.error(event, exc_info=error, **fields)
        return True

    def succeeded(self, event: str, **fields: Any) -> None:
        """The worker works again: say so once if failures were suppressed meanwhile."""
        if not self._failures_since_success:
            return
        suppressed = sum(window.suppressed for window in self._windows.values())
        if suppressed:
            self._logger.info(event, failures=self._failures_since_success, **fields)
        self._failures_since_success = 0
        self._windows.clear()


def repeated_failure_log(name: str, **bound: Any) -> RepeatedFailureLog:
    """A :class:`RepeatedFailureLog` over ``structlog.get_logger(name).bind(**bound)``."""
    return RepeatedFailureLog(structlog.get_logger(name).bind(**bound))
