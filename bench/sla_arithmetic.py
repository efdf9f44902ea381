"""Benchmark 5 — SLA due-time and elapsed-time arithmetic, from ``bench/sla_time.py``.

That module is written separately; when it is absent the benchmark is reported as
skipped rather than failing the run.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import cast

SLA_TIME_MODULE = "bench.sla_time"

SlaRows = list[dict[str, object]]


def sla_time_available() -> bool:
    return importlib.util.find_spec(SLA_TIME_MODULE) is not None


def run_sla_arithmetic(seconds_per_case: float) -> SlaRows:
    module = importlib.import_module(SLA_TIME_MODULE)
    run = cast(Callable[..., SlaRows], module.run)
    return run(seconds_per_case=seconds_per_case)
