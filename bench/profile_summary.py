"""Summarise a py-spy profile (``--format raw``: collapsed stacks) into where time goes.

Each line is ``frame;frame;…;leaf count`` with frames like
``commit (sqlalchemy/ext/asyncio/session.py:1012)``, outermost first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Checked in order: the first match names a frame's component.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("aftercare_intake", "aftercare_intake/"),
    ("aftercare_shared", "aftercare_shared/"),
    ("sqlalchemy", "sqlalchemy/"),
    ("asyncpg", "asyncpg/"),
    ("pydantic", "pydantic"),
    ("fastapi", "fastapi/"),
    ("starlette", "starlette/"),
    ("uvicorn", "uvicorn/"),
    ("prometheus_client", "prometheus_client/"),
    ("structlog", "structlog/"),
    ("aiokafka", "aiokafka/"),
    ("asyncio", "asyncio/"),
)
OTHER = "other"

_LOCATION = re.compile(r"\((?P<file>[^():]+)(?::\d+)?\)$")


@dataclass(frozen=True, slots=True)
class Stack:
    frames: tuple[str, ...]
    samples: int


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    total_samples: int
    components_inclusive: list[tuple[str, float]]
    """Share of samples with at least one frame of the component on the stack."""
    components_self: list[tuple[str, float]]
    """Share of samples whose innermost frame belongs to the component."""
    functions_inclusive: list[tuple[str, float]]
    functions_self: list[tuple[str, float]]


def parse_collapsed(lines: Iterable[str]) -> list[Stack]:
    stacks: list[Stack] = []
    for line in lines:
        stack_text, _, count = line.rstrip("\n").rpartition(" ")
        if stack_text and count.isdigit():
            stacks.append(Stack(tuple(stack_text.split(";")), int(count)))
    return stacks


def function_name(frame: str) -> str:
    """``commit (sqlalchemy/orm/session.py:1012)`` → ``commit (sqlalchemy/orm/session.py)``.

    Line numbers split one function into many entries; without them it is counted once.
    """
    match = _LOCATION.search(frame)
    if match is None:
        return frame
    return f"{frame[: match.start()].rstrip()} ({match.group('file')})"


def component_of(frame: str) -> str:
    for name, marker in COMPONENTS:
        if marker in frame:
            return name
    return OTHER


def _shares(counts: Counter[str], total: int, top: int) -> list[tuple[str, float]]:
    return [(name, count / total) for name, count in counts.most_common(top)]


def summarise(stacks: Sequence[Stack], *, top: int = 15) -> ProfileSummary:
    total = sum(stack.samples for stack in stacks)
    if total == 0:
        return ProfileSummary(0, [], [], [], [])
    inclusive_components: Counter[str] = Counter()
    self_components: Counter[str] = Counter()
    inclusive_functions: Counter[str] = Counter()
    self_functions: Counter[str] = Counter()
    for stack in stacks:
        # A recursive or repeated frame still counts a sample once per name.
        for component in {component_of(frame) for frame in stack.frames}:
            inclusive_components[component] += stack.samples
        for function in {function_name(frame) for frame in stack.frames}:
            inclusive_functions[function] += stack.samples
        leaf = stack.frames[-1]
        self_components[component_of(leaf)] += stack.samples
        self_functions[function_name(leaf)] += stack.samples
    return ProfileSummary(
        total_samples=total,
        components_inclusive=_shares(inclusive_components, total, top),
        components_self=_shares(self_components, total, top),
        functions_inclusive=_shares(inclusive_functions, total, top),
        functions_self=_shares(self_functions, total, top),
    )
