"""Waking the outbox relay when outbox rows commit, without a NOTIFY on every commit.

Why this exists: a transaction that sends ``NOTIFY`` takes the lock of Postgres's one,
server-wide notification queue at commit and holds it through its WAL flush, so
notifying commits are serialised — a ceiling on the commit rate of the hot write paths. Yet the
relay that must hear about a commit usually runs in the very process that committed.

So the leading relay registers here (:func:`leading`) and a writer asks, before its
statement, :func:`notify_needed`: ``False`` while this process's relay leads the schema
(after the commit, :func:`committed` wakes it in process: no NOTIFY, no lock), ``False``
too while this process's relay stands by (:func:`standing_by`: after the commit,
:func:`committed` asks it to NOTIFY the leader on a connection of its own, one NOTIFY for
a burst of commits — :mod:`aftercare_shared.outbox.standby_wake`), ``True`` otherwise — no
relay in this process (CLI, tools, between two tries for the lock) means only a
``pg_notify`` in the transaction reaches the leader. So no hot write path's commit sends
the NOTIFY itself, and none waits for the poll interval. The relay's polling stays the
safety net (for instance leadership moving between a write and its commit, or a standby's
NOTIFY failing).

:func:`aftercare_shared.outbox.enqueue_event` does all this for an ORM session (the wake
runs from the session's ``after_commit`` event). A raw-SQL writer does it by hand::

    with_notify = wake.notify_needed(schema)     # add pg_notify(channel, '') if True
    ... execute and commit ...
    wake.committed(schema)                       # after the commit succeeded
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_SESSION_INFO_KEY = "aftercare.outbox.wake"


@dataclass(frozen=True, eq=False)
class _Leader:
    loop: asyncio.AbstractEventLoop
    wake: Callable[[], None]


# Schema → the relays of this process leading it (one in a service; a test may run more),
# and those standing by, each with its way to NOTIFY the leader after a commit.
_leaders: dict[str, list[_Leader]] = {}
_standbys: dict[str, list[_Leader]] = {}


@contextlib.contextmanager
def _registered(
    relays: dict[str, list[_Leader]], schema: str, wake: Callable[[], None]
) -> Iterator[None]:
    relay = _Leader(asyncio.get_running_loop(), wake)
    relays.setdefault(schema, []).append(relay)
    try:
        yield
    finally:
        remaining = [other for other in relays.get(schema, []) if other is not relay]
        if remaining:
            relays[schema] = remaining
        else:
            relays.pop(schema, None)


def leading(schema: str, wake: Callable[[], None]) -> contextlib.AbstractContextManager[None]:
    """While inside, this process's relay leads ``schema``: commits call ``wake`` (on the
    caller's event loop) instead of sending NOTIFY. Enter it on the running loop."""
    return _registered(_leaders, schema, wake)


def standing_by(
    schema: str, notify_leader: Callable[[], None]
) -> contextlib.AbstractContextManager[None]:
    """While inside, this process's relay stands by for ``schema``: commits call
    ``notify_leader`` (on its event loop), which NOTIFYs the leader after the commit,
    instead of each transaction sending the NOTIFY. Enter it on the running loop."""
    return _registered(_standbys, schema, notify_leader)


def _live(relays: list[_Leader] | None) -> list[_Leader]:
    # A relay whose event loop was closed under it (never stopped) does nothing any more.
    return [relay for relay in relays or () if not relay.loop.is_closed()]


def notify_needed(schema: str) -> bool:
    """Whether a transaction adding rows to ``schema``'s outbox must send the NOTIFY:
    ``True`` unless this process's own relay leads ``schema`` or stands by for it."""
    return not (_live(_leaders.get(schema)) or _live(_standbys.get(schema)))


def committed(schema: str) -> None:
    """Rows were committed to ``schema``'s outbox: wake this process's leading relay, else
    have its standby NOTIFY the leader (safe to call from any thread; a no-op when no
    relay here leads or stands by)."""
    for relay in _live(_leaders.get(schema)) or _live(_standbys.get(schema)):
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if relay.loop is running:
            relay.wake()
        else:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nothing to wake
                relay.loop.call_soon_threadsafe(relay.wake)


def wake_after_commit(session: AsyncSession, schema: str) -> None:
    """Call :func:`committed` for ``schema`` once ``session``'s transaction commits
    (nothing when it rolls back)."""
    pending: set[str] = session.sync_session.info.setdefault(_SESSION_INFO_KEY, set())
    pending.add(schema)


# Both events also fire for a savepoint (``begin_nested``): only the outermost transaction
# decides, so the wake waits for the real commit (a savepoint rolled back just leaves a
# wake that finds nothing new).
@event.listens_for(Session, "after_commit")
def _wake_relays_after_commit(session: Session) -> None:
    if not session.in_nested_transaction():
        for schema in session.info.pop(_SESSION_INFO_KEY, ()):
            committed(schema)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session, *_: Any) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_SESSION_INFO_KEY, None)
