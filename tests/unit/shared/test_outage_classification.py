"""Which failures are a dependency outage (503 + Retry-After) and which are bugs (500)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy import exc as sa_exc

from aftercare_shared.outages import is_unstorable_text, outage_of


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


def test_text_postgres_cannot_store_is_the_clients_input_not_an_outage() -> None:
    nul_in_text = _wrapped_by_sqlalchemy(asyncpg.exceptions.CharacterNotInRepertoireError())
    nul_in_json = _wrapped_by_sqlalchemy(asyncpg.exceptions.UntranslatableCharacterError())
    assert is_unstorable_text(nul_in_text)
    assert is_unstorable_text(nul_in_json)
    assert outage_of(nul_in_text) is None
    assert not is_unstorable_text(_wrapped_by_sqlalchemy(asyncpg.exceptions.UniqueViolationError()))
