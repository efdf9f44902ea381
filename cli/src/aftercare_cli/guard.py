"""Turns the ways a command can fail into one error message and exit code 1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import typer

from aftercare_cli.config import ConfigError, OpsConfig, load_config
from aftercare_cli.output import CommandFailedError, fail
from aftercare_shared.clock import utc_now
from aftercare_shared.names import SERVICE_NAMES, ServiceName

T = TypeVar("T")


def _failures() -> tuple[type[BaseException], ...]:
    # Imported when a command fails, not at start-up: the clients are slow to import.
    import asyncpg
    from aiokafka.errors import KafkaError

    return (
        ConfigError,
        CommandFailedError,
        KafkaError,
        OSError,
        TimeoutError,
        asyncpg.PostgresError,
        ValueError,
    )


@contextmanager
def failures_exit(*, as_json: bool) -> Any:
    try:
        yield
    except typer.Exit:
        raise
    except Exception as error:
        if not isinstance(error, _failures()):
            raise
        fail(f"{type(error).__name__}: {error}" if not str(error) else str(error), as_json=as_json)


def config_or_exit(as_json: bool) -> OpsConfig:
    with failures_exit(as_json=as_json):
        return load_config()
    raise AssertionError("unreachable")  # pragma: no cover - failures_exit always raises


def run_async(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(coroutine())


def services_named(names: list[str] | None) -> list[ServiceName]:
    if not names:
        return list(SERVICE_NAMES)
    chosen = []
    for name in names:
        try:
            chosen.append(ServiceName(name))
        except ValueError:
            known = ", ".join(s.value for s in SERVICE_NAMES)
            raise typer.BadParameter(f"unknown service {name!r} (one of {known})") from None
    return chosen


def parse_since(raw: str | None) -> datetime | None:
    """An ISO 8601 time (UTC when no zone is given) or an age like ``15m``, ``2h``, ``3d``."""
    if raw is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if raw[-1:] in units and raw[:-1].isdigit():
        seconds = int(raw[:-1]) * units[raw[-1]]
        return utc_now() - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise typer.BadParameter(
            f"{raw!r} is neither an ISO 8601 time nor an age such as 15m, 2h, 3d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
