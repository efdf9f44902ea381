"""The live stream behind ``GET /v1/stream``: events as notify stored them, in order.

Fed from notify's own consumption — the ``messages`` table — rather than from memory,
so every replica streams every event whatever partitions it consumes. Order and
completeness come from ``(stream_xact, stream_seq)``: the feed only reads rows whose
inserting transaction is older than every transaction still running
(``pg_snapshot_xmin``), so a row committed late can never land behind the position a
reader has passed. That position is the SSE event id: ``Last-Event-ID`` resumes from it
within ``NOTIFY_STREAM_RETENTION_SECONDS``.

One :class:`StreamFeed` per process polls once per wake-up (a NOTIFY at fan-out commit,
or the poll interval) and hands each new message to every reader's bounded queue. A
reader whose queue is full is cut (its stream ends; it reconnects with
``Last-Event-ID``): a slow dashboard never makes the feed buffer without bound. With no
reader connected the feed reads nothing (every fan-out commit would otherwise cost a read
of the new bodies for no one); the next reader finds the head before it goes live.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare_notify.domain.grouping import DIGEST_EVENT_TYPE
from aftercare_notify.domain.routing import RoutingFields
from aftercare_notify.domain.stream_filter import StreamFilter
from aftercare_notify.models import SCHEMA
from aftercare_shared.clock import utc_now
from aftercare_shared.wakeup import CommitWakeup

logger = structlog.get_logger(__name__)

STREAM_CHANNEL = "notify_stream"
FEED_BATCH = 500

Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class StreamItem:
    position: Position
    event_type: str
    fields: RoutingFields
    body: bytes

    @property
    def event_id(self) -> str:
        return format_position(self.position)


def format_position(position: Position) -> str:
    return f"{position[0]}.{position[1]}"


def parse_position(value: str | None) -> Position | None:
    """A ``Last-Event-ID`` we issued, or None for anything else (start from now)."""
    if not value:
        return None
    xact, _, seq = value.partition(".")
    if not (xact.isdigit() and seq.isdigit()):
        return None
    return int(xact), int(seq)


_READ = text(
    f"""
    SELECT stream_xact::text::bigint AS xact, stream_seq, event_type, client_id, priority,
           environment, staff_only, body
    FROM {SCHEMA}.messages
    WHERE (stream_xact, stream_seq) > (CAST(:xact AS text)::xid8, :seq)
      AND stream_xact < pg_snapshot_xmin(pg_current_snapshot())
      AND received_at >= :since
      AND event_type <> '{DIGEST_EVENT_TYPE}'
    ORDER BY stream_xact, stream_seq
    LIMIT :limit
    """  # noqa: S608 - the schema is a constant
)
_HEAD = text(
    f"""
    SELECT coalesce(max(stream_xact::text::bigint), 0), coalesce(max(stream_seq), 0)
    FROM {SCHEMA}.messages
    WHERE stream_xact = (SELECT max(stream_xact) FROM {SCHEMA}.messages
                         WHERE stream_xact < pg_snapshot_xmin(pg_current_snapshot()))
    """  # noqa: S608 - the schema is a constant
)


async def read_after(
    session: AsyncSession, after: Position, *, since: datetime, limit: int = FEED_BATCH
) -> list[StreamItem]:
    rows = await session.execute(
        _READ, {"xact": str(after[0]), "seq": after[1], "since": since, "limit": limit}
    )
    return [
        StreamItem(
            position=(row.xact, row.stream_seq),
            event_type=row.event_type,
            fields=RoutingFields(row.client_id, row.priority, row.environment, row.staff_only),
            body=row.body,
        )
        for row in rows
    ]


@dataclass(eq=False)
class Reader:
    """One connected client: its filter, its queue, whether it was cut."""

    filter: StreamFilter
    queue: asyncio.Queue[StreamItem] = field(default_factory=lambda: asyncio.Queue(1000))
    cut: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, item: StreamItem) -> None:
        if self.cut.is_set() or not self.filter.wants(item.event_type, item.fields):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.cut.set()  # too slow: end its stream rather than buffer without bound


class StreamFeed:
    """Polls new messages once per wake-up and offers them to every reader."""

    name = "notify-stream-feed"

    def __init__(
        self, *, retention_seconds: float, poll_interval_seconds: float, queue_size: int
    ) -> None:
        self.retention = timedelta(seconds=retention_seconds)
        self._poll_interval = poll_interval_seconds
        self._queue_size = queue_size
        self._readers: weakref.WeakSet[Reader] = weakref.WeakSet()
        self._session_factory: async_sessionmaker[AsyncSession] | None = None
        self._wakeup: CommitWakeup | None = None
        # None while nobody reads: the feed stops following and finds the head again
        # when a reader arrives (under the lock, so two arrivals find it once).
        self._position: Position | None = None
        self._position_lock = asyncio.Lock()
        self._stop = asyncio.Event()

    def attach(
        self, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
    ) -> None:
        self._session_factory = session_factory
        self._wakeup = CommitWakeup(engine, STREAM_CHANNEL)

    async def run(self) -> None:
        assert self._session_factory is not None
        assert self._wakeup is not None
        listener = asyncio.create_task(self._wakeup.run())
        try:
            while not self._stop.is_set():
                self._wakeup.event.clear()
                await self._poll()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.event.wait(), self._poll_interval)
        finally:
            self._wakeup.stop()
            await asyncio.gather(listener, return_exceptions=True)

    async def stop(self) -> None:
        self._stop.set()
        if self._wakeup is not None:
            self._wakeup.event.set()

    async def _poll(self) -> None:
        assert self._session_factory is not None
        if not self._readers:
            self._position = None
            return
        position = await self._followed_position()
        while True:
            async with self._session_factory() as session:
                items = await read_after(session, position, since=utc_now() - self.retention)
            for item in items:
                for reader in list(self._readers):
                    reader.offer(item)
                self._position = position = item.position
            if len(items) < FEED_BATCH:
                return

    async def _followed_position(self) -> Position:
        """The position the feed has handed out up to; the newest visible message's when
        the feed was not following (no reader until now)."""
        assert self._session_factory is not None
        async with self._position_lock:
            if self._position is None:
                async with self._session_factory() as session:
                    head = (await session.execute(_HEAD)).one()
                self._position = (int(head[0]), int(head[1]))
            return self._position

    async def open(
        self, stream_filter: StreamFilter, last_event_id: str | None
    ) -> AsyncIterator[StreamItem]:
        """Register a reader and return its events: everything after ``last_event_id``
        (within retention), then live, until cut.

        Called before the response starts, so whatever commits once the reader has its
        answer is in its stream. The feed holds readers weakly: a stream whose response
        never started (the client left first) unregisters itself when it is dropped.
        """
        assert self._session_factory is not None, "the feed runs with the service"
        reader = Reader(stream_filter, asyncio.Queue(self._queue_size))
        self._readers.add(reader)  # first: nothing committed from now on can be missed
        try:
            # Then make sure the feed follows from here on (it reads nothing while there is
            # no reader): what commits later reaches the queue, what came before is below.
            await self._followed_position()
        except BaseException:
            self._readers.discard(reader)
            raise
        return self._events(reader, parse_position(last_event_id))

    async def _events(self, reader: Reader, resume: Position | None) -> AsyncIterator[StreamItem]:
        assert self._session_factory is not None
        try:
            sent: Position | None = None
            if resume is not None:
                async with self._session_factory() as session:
                    while True:
                        items = await read_after(
                            session, sent or resume, since=utc_now() - self.retention
                        )
                        for item in items:
                            if reader.filter.wants(item.event_type, item.fields):
                                yield item
                            sent = item.position
                        if len(items) < FEED_BATCH:
                            break
            cut = asyncio.create_task(reader.cut.wait())
            try:
                while True:
                    get = asyncio.create_task(reader.queue.get())
                    done, _ = await asyncio.wait({get, cut}, return_when=asyncio.FIRST_COMPLETED)
                    if get not in done:
                        get.cancel()
                        logger.info("stream reader too slow; cut")
                        return
                    item = get.result()
                    if sent is not None and item.position <= sent:
                        continue  # already sent while catching up
                    sent = item.position
                    yield item
            finally:
                cut.cancel()
        finally:
            self._readers.discard(reader)
