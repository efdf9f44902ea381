"""Applying one event exactly once: inbox row and handler effects share a transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.events.envelope import CloudEvent

EventHandler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
"""Applies one event using the given session; never commits (the runner does)."""


class PermanentEventError(Exception):
    """Raise from a handler when retrying cannot help: the record is dead-lettered at once."""


class DatabaseUnavailableError(Exception):
    """The database could not be reached before the handler ran: not the event's fault."""


def is_connection_failure(error: BaseException) -> bool:
    """True when ``error`` means the database connection failed, not that a statement did."""
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    return isinstance(error, OSError)


async def apply_once(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    inbox: Table,
    consumer: str,
    event: CloudEvent,
    handler: EventHandler,
) -> bool:
    """Run ``handler`` for ``event`` and record it in the inbox, in one transaction.

    Returns False, changing nothing, when ``consumer`` already applied this event id.
    Raises :class:`DatabaseUnavailableError` when the database fails before the handler runs,
    so callers can wait for it instead of counting the failure against the event.
    """
    handler_started = False
    try:
        async with session_factory() as session, session.begin():
            first_delivery = await session.scalar(
                insert(inbox)
                .values(consumer=consumer, event_id=event.id)
                .on_conflict_do_nothing()
                .returning(inbox.c.event_id)
            )
            if first_delivery is None:
                return False
            handler_started = True
            await handler(session, event)
    except Exception as error:
        if not handler_started and is_connection_failure(error):
            raise DatabaseUnavailableError(str(error)) from error
        raise
    return True
