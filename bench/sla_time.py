"""SLA business-time arithmetic: due times and paused elapsed times per second.

Steady-state figures (each calendar's years already resolved, as in a running service)
for a 9-5 London calendar with England's bank holidays and the overrides of the example
in docs/architecture.md, and for 24x7; plus the first computation on a calendar never
seen before, and a same-run baseline that steps minute by minute, so a ratio survives a
change of machine.

Run ``uv run python bench/sla_time.py`` for a Markdown table.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from aftercare_shared.business_time import (
    BusinessCalendar,
    Pause,
    add_business_time,
    business_time_between_with_pauses,
    is_open,
)
from aftercare_shared.business_time.timeline import timeline_for

Case = TypeVar("Case")

NINE_TO_FIVE_JSON: dict[str, object] = {
    "timezone": "Europe/London",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25"],
    "holiday_country": "GB",
    "holiday_subdivision": "ENG",
    "overrides": {"2026-12-24": [["09:00", "12:00"]], "2026-12-31": []},
}
SHORT_TARGETS = (
    timedelta(minutes=30),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=40),
)
LONG_TARGET = timedelta(hours=2_000)
BASELINE_TARGET = timedelta(hours=8)
MINUTE = timedelta(minutes=1)
CASES_PER_KIND = 500


def _starts(rng: random.Random, count: int) -> list[datetime]:
    """Minute-aligned instants spread over 2026, so holidays and DST dates are crossed."""
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    return [year_start + rng.randrange(365 * 24 * 60) * MINUTE for _ in range(count)]


def _pauses(rng: random.Random, start: datetime, span: timedelta) -> list[Pause]:
    pauses = []
    for _ in range(3):
        begin = start + span * rng.random()
        pauses.append((begin, begin + timedelta(hours=rng.uniform(0, 48))))
    return pauses


def _rate(operation: Callable[[Case], object], cases: Sequence[Case], seconds: float) -> float:
    """Operations per second over ``cases``, cycling through them for ``seconds``."""
    for case in cases[: min(len(cases), 50)]:
        operation(case)  # warm-up: resolve the calendar years the cases touch
    done = 0
    began = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for case in cases:
            operation(case)
        done += len(cases)
        elapsed = time.perf_counter() - began
    return done / elapsed


def naive_add_business_time(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> datetime:
    """The obvious way: step one minute at a time and count the open minutes (for
    minute-aligned starts and whole-minute targets above zero)."""
    moment, remaining = start.astimezone(UTC), duration
    while remaining > timedelta(0):
        if is_open(calendar, moment):
            remaining -= MINUTE
        moment += MINUTE
    return moment


def run(seconds_per_case: float = 2.0) -> list[dict[str, object]]:
    rng = random.Random(2026)
    nine_to_five = BusinessCalendar.from_json(NINE_TO_FIVE_JSON)
    always_open = BusinessCalendar.from_json(None)
    starts = _starts(rng, CASES_PER_KIND)
    short_cases = [(start, SHORT_TARGETS[index % 4]) for index, start in enumerate(starts)]
    # One target in five is the 2,000-hour one: about a year of 9-5 business time.
    mixed_cases = [
        (start, LONG_TARGET if index % 5 == 4 else target)
        for index, (start, target) in enumerate(short_cases)
    ]
    long_cases = [(start, LONG_TARGET) for start in starts]
    spans = [timedelta(hours=rng.uniform(1, 30 * 24)) for _ in starts]
    paused_cases = [
        (start, start + span, _pauses(rng, start, span))
        for start, span in zip(starts, spans, strict=True)
    ]

    def due_on(calendar: BusinessCalendar) -> Callable[[tuple[datetime, timedelta]], object]:
        return lambda case: add_business_time(calendar, case[0], case[1])

    def elapsed_on(
        calendar: BusinessCalendar,
    ) -> Callable[[tuple[datetime, datetime, list[Pause]]], object]:
        return lambda case: business_time_between_with_pauses(calendar, *case)

    def first_use(case: tuple[datetime, timedelta]) -> object:
        # A calendar never seen before: parse it and resolve the year it needs.
        timeline_for.cache_clear()
        return add_business_time(BusinessCalendar.from_json(NINE_TO_FIVE_JSON), *case)

    rows: list[dict[str, object]] = [
        {
            "benchmark": "sla.due_time.9to5_holidays",
            "ops_per_second": _rate(due_on(nine_to_five), mixed_cases, seconds_per_case),
            "note": "Europe/London 9-5, GB-ENG holidays + overrides; targets 30m/4h/8h/40h "
            "and 2000h (1 in 5); starts spread over 2026",
        },
        {
            "benchmark": "sla.due_time.9to5_holidays.2000h",
            "ops_per_second": _rate(due_on(nine_to_five), long_cases, seconds_per_case),
            "note": "every target 2000 business hours (about a calendar year)",
        },
        {
            "benchmark": "sla.due_time.24x7",
            "ops_per_second": _rate(due_on(always_open), mixed_cases, seconds_per_case),
            "note": "absent calendar; same starts and targets",
        },
        {
            "benchmark": "sla.elapsed_paused.9to5_holidays",
            "ops_per_second": _rate(elapsed_on(nine_to_five), paused_cases, seconds_per_case),
            "note": "ranges up to 30 days with 3 pauses of up to 48h",
        },
        {
            "benchmark": "sla.elapsed_paused.24x7",
            "ops_per_second": _rate(elapsed_on(always_open), paused_cases, seconds_per_case),
            "note": "same ranges and pauses",
        },
        {
            "benchmark": "sla.due_time.9to5_holidays.first_use",
            "ops_per_second": _rate(first_use, short_cases[:20], seconds_per_case),
            "note": "cold: parse the calendar and resolve its year before the first answer",
        },
    ]

    baseline_cases = [(start, BASELINE_TARGET) for start in starts[:40]]
    for start, target in baseline_cases[:5]:
        # The baseline must compute the same thing for the ratio to mean anything.
        assert naive_add_business_time(nine_to_five, start, target) == add_business_time(
            nine_to_five, start, target
        )
    fast = _rate(due_on(nine_to_five), baseline_cases, seconds_per_case)
    naive = _rate(
        lambda case: naive_add_business_time(nine_to_five, *case),
        baseline_cases,
        seconds_per_case,
    )
    rows.append(
        {
            "benchmark": "sla.due_time.9to5_holidays.8h_vs_minute_stepping",
            "ops_per_second": fast,
            "baseline_ops_per_second": naive,
            "ratio": fast / naive,
            "note": "baseline: the same 8h targets by stepping minute by minute (is_open per "
            "minute); ratio = engine / baseline",
        }
    )
    return rows


def markdown(rows: Sequence[dict[str, object]]) -> str:
    lines = [
        "| benchmark | ops/s | baseline ops/s | ratio | note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        cells = [
            str(row["benchmark"]),
            _number(row.get("ops_per_second")),
            _number(row.get("baseline_ops_per_second")),
            _number(row.get("ratio")),
            str(row.get("note", "")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value: object) -> str:
    if not isinstance(value, int | float):
        return ""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


if __name__ == "__main__":
    print(markdown(run()))
