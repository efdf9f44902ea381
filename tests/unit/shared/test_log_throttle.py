"""A broker outage's repeated library lines are aggregated: one per kind per window."""

from __future__ import annotations

import logging

from aftercare_shared.observability.log_throttle import RepeatedLineFilter


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeats_within_the_window_are_dropped_and_counted_on_the_next_line() -> None:
    clock = _Clock()
    throttle = RepeatedLineFilter(window_seconds=30, clock=clock)
    template = "Unable connect to node with id %s: %s"
    passed = [
        throttle.filter(_record("aiokafka.conn", template, node, "refused"))
        for node in range(1_000)
    ]
    assert passed.count(True) == 1  # the first says it; 999 repeats (any node) say nothing
    clock.now = 30.0
    after_window = _record("aiokafka.conn", template, 1, "refused")
    assert throttle.filter(after_window)
    assert "999 similar lines suppressed" in after_window.getMessage()


def test_other_kinds_other_loggers_and_info_lines_pass() -> None:
    throttle = RepeatedLineFilter(window_seconds=30, clock=_Clock())
    assert throttle.filter(_record("aiokafka.conn", "Unable connect to node %s", 1))
    assert throttle.filter(_record("aiokafka.client", "Unable to update metadata from %s", 1))
    for _ in range(3):
        assert throttle.filter(_record("aftercare.outbox", "relay failed"))
        assert throttle.filter(_record("aiokafka.conn", "connected", level=logging.INFO))
