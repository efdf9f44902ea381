"""Which failures are a dependency outage (503 + Retry-After) and which are bugs (500)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy import exc as sa_exc

from aftercare_shared.outages import outage_of


def _wrapped_by_sqlalchemy(error: Exception, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises a driver error: a DBAPIError holding it as ``orig``."""
    return sa_exc.DBAPIError("SELECT 1", None, error, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), "database"),
        (TimeoutError(), "database"),
        (_wrapped_by_sqlalchemy(asyncpg.exceptions.ConnectionDoesNotExistError()), "database"),
        (_wrapped_by_sqlalchemy(asyncpg.exceptions.AdminShutdownError()), "database"),
        (asyncpg.exceptions.CannotConnectNowError(), "database"),
        (asyncpg.exceptions.TooManyConnectionsError(), "database"),
        (_wrapped_by_sqlalchemy(RuntimeError("closed"), invalidated=True), "database"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "database"),
        (KafkaConnectionError("Unable connect"), "kafka"),
        (ValueError("a bug"), None),
        (_wrapped_by_sqlalchemy(asyncpg.exceptions.UniqueViolationError()), None),
        (sa_exc.IntegrityError("INSERT", None, Exception("duplicate")), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_an_outage_is_told_from_a_bug(error: Exception, dependency: str | None) -> None:
    assert outage_of(error) == dependency


def test_an_outage_found_behind_the_exception_that_reports_it() -> None:
    error = RuntimeError("while reading the key")
    error.__cause__ = ConnectionResetError("reset by peer")
    assert outage_of(error) == "database"
