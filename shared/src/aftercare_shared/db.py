"""Database access: one async engine per service process, one schema per service."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    MetaData,
    Table,
    TableValuedAlias,
    bindparam,
    column,
    event,
    func,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# Stable constraint names so Alembic migrations can refer to (and drop) them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def table_of(model: type[Any]) -> Table:
    """A mapped class's table, typed as one (``__table__`` is typed loosely)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def bound_values(table: Table, names: Iterable[str]) -> dict[str, BindParameter[Any]]:
    """``{name: bindparam(name)}``, each typed as ``table``'s column of that name.

    The values of a statement built once, at import, and run with a dict of parameters:
    for the statements a consumer runs on every event, building the Core statement anew
    (and taking the ORM's DML path) cost more CPU than running it; built once, SQLAlchemy's
    compiled cache serves every call.
    """
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


def unnested_rows(table: Table, names: Sequence[str], *, alias: str = "run") -> TableValuedAlias:
    """``unnest(:name, …) AS run(name, …)``: rows of ``table``'s columns, one array per column.

    The set-based form of :func:`bound_values`, for a handler that writes a run of events
    in one statement (``INSERT … SELECT … FROM`` this): the SQL is the same whatever the
    run's length, so it is compiled and prepared once, where a multi-row ``VALUES`` would
    be per row count. Bind it with one list per column, each in row order.
    """
    arrays = [bindparam(name, type_=ARRAY(table.c[name].type)) for name in names]
    columns = [column(name, table.c[name].type) for name in names]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name=alias)


def column_arrays(rows: Sequence[object], *names: str, **renamed: str) -> dict[str, list[Any]]:
    """The parameters for :func:`unnested_rows`: one list per column, in row order.

    ``names`` are attributes read under their own name; ``renamed`` maps a column to the
    attribute it is read from (``status_changed_at="created_at"``).
    """
    sources = {name: name for name in names} | renamed
    return {
        column_name: [getattr(row, attribute) for row in rows]
        for column_name, attribute in sources.items()
    }


# A connection idle longer than this is pinged before use; busy ones are not. SQLAlchemy's
# pool_pre_ping would ping on every checkout: three round trips per request with asyncpg.
PING_CONNECTIONS_IDLE_FOR_SECONDS = 30.0
RECYCLE_CONNECTIONS_AFTER_SECONDS = 1800


def create_engine(database_url: str, *, pool_size: int = 10, application_name: str) -> AsyncEngine:
    """An engine whose pool opens up to ``2 * pool_size`` connections as load needs them
    and keeps them.

    Not ``pool_size`` plus as many "overflow" connections: SQLAlchemy closes an overflow
    connection as soon as it is returned while the pool is full, so under a steady load
    above ``pool_size`` requests in flight a connection was opened and closed every few
    dozen requests (one per ~65 reports in intake's benchmark), each time a new Postgres
    backend with cold catalog caches and every prepared statement parsed and planned
    again. The most connections a process holds is the same; they are opened lazily and
    recycled after ``RECYCLE_CONNECTIONS_AFTER_SECONDS``.
    """
    engine = create_async_engine(
        database_url,
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=RECYCLE_CONNECTIONS_AFTER_SECONDS,
        connect_args={"server_settings": {"application_name": application_name}},
    )
    _ping_connections_after_idling(engine)
    return engine


def _ping_connections_after_idling(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkin")
    def remember_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def ping_if_idle(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None:
            return  # just opened
        if time.monotonic() - checked_in_at < PING_CONNECTIONS_IDLE_FOR_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool discards this connection and retries the checkout with a new one.
            raise DisconnectionError("connection went stale while idle") from error


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers read attributes after commit to build responses.
    return async_sessionmaker(engine, expire_on_commit=False)
