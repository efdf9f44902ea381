"""What the user sees: one progress line per step, and failures they can act on."""

import sys


class DevstackError(Exception):
    """A failure whose message tells the user what went wrong and what to do about it."""


def step(message: str) -> None:
    # flush: make pipes the output through, and a slow step must show before it ends.
    print(f"devstack: {message}", flush=True)


def warn(message: str) -> None:
    print(f"devstack: warning: {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    print(f"devstack: error: {message}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
