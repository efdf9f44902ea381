"""The handler registry: event type → typed handler, declared once per service.

A service lists what it does with other services' events in its ``consumers.py``::

    handlers = EventHandlers()

    @handlers.on(TicketCreated)
    async def ticket_created(session: AsyncSession, ticket: TicketCreated) -> None: ...

and names the registry on its ``ServiceSpec``; the platform's one consumer runner
dispatches every record through it, in the runner's transaction.

Failures that a retry cannot mend are raised as :class:`PermanentEventError`, so the
record goes to the service's dead-letter topic at once, the same in every service:

- an event type that is not in the catalog (this build does not know it), and
- a payload that does not decode into its catalog model.

A catalog type the service has no handler for is skipped: topics carry many types and
each service cares about some of them.

A handler may instead take a set of payloads (``@handlers.on_many(TicketCreated)``,
``async def f(session, tickets: Sequence[TicketCreated])``): it must have the same effect
as applying them one by one in list order (say, one multi-row upsert where later rows
win). The runner's batch path hands it a run of consecutive events of its type, gathered
from the batch's partitions, each partition's in offset order (events of different
partitions have no order between them); a record applied alone hands it a list of one.
A run is formed only for types whose handlers all take sets, so the order of effects is
the same as one event at a time.

Handlers for every event (``@handlers.on_every_event``, ``async def f(session, events:
Sequence[CloudEvent])``, notify's fan-out) take sets too, with the same rule: the effect
of one call per event in list order. A run's typed handlers go first, then the
every-event ones with the same events. Events of types with no typed handler have
nothing to interleave with, so in a registry with every-event handlers they make one run
whatever their types (:data:`UNTYPED_RUN`); an event of a type whose handlers do not all
take sets is applied alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.consumer.processing import PermanentEventError
from aftercare_shared.events.catalog import PAYLOADS_BY_SHORT_TYPE, EventPayload
from aftercare_shared.events.envelope import CloudEvent, EventDecodeError, full_event_type
from aftercare_shared.events.factory import payload_as

PayloadT = TypeVar("PayloadT", bound=EventPayload)
PayloadHandler = Callable[[AsyncSession, PayloadT], Awaitable[None]]
PayloadSetHandler = Callable[[AsyncSession, Sequence[PayloadT]], Awaitable[None]]
EveryEventHandler = Callable[[AsyncSession, Sequence[CloudEvent]], Awaitable[None]]

UNTYPED_RUN = "*"
"""The run of consecutive events that have no typed handler, whatever their types."""

_KNOWN_TYPES = frozenset(full_event_type(short_type) for short_type in PAYLOADS_BY_SHORT_TYPE)


_AnyHandler = Callable[[AsyncSession, EventPayload], Awaitable[None]]
_AnySetHandler = Callable[[AsyncSession, Sequence[EventPayload]], Awaitable[None]]


class _Registration:
    """One payload type's handlers in registration order, kept untyped inside the registry.

    Each entry is ``(handler, takes_a_set)``.
    """

    def __init__(self, payload_type: type[EventPayload]) -> None:
        self.payload_type = payload_type
        self.handlers: list[tuple[_AnyHandler | _AnySetHandler, bool]] = []

    @property
    def takes_sets(self) -> bool:
        return all(takes_a_set for _, takes_a_set in self.handlers)

    def decode(self, event: CloudEvent) -> EventPayload:
        try:
            return payload_as(event, self.payload_type)
        except EventDecodeError as error:
            raise PermanentEventError(str(error)) from error

    async def apply(self, session: AsyncSession, payloads: Sequence[EventPayload]) -> None:
        """Every handler in order; a per-event handler once per payload."""
        for handler, takes_a_set in self.handlers:
            if takes_a_set:
                await handler(session, payloads)  # type: ignore[arg-type]
            else:
                for payload in payloads:
                    await handler(session, payload)  # type: ignore[arg-type]


class EventHandlers:
    """Typed handlers by event type, plus optional handlers for every event."""

    def __init__(self) -> None:
        self._by_type: dict[str, _Registration] = {}
        self._every_event: list[EveryEventHandler] = []

    def on(
        self, payload_type: type[PayloadT]
    ) -> Callable[[PayloadHandler[PayloadT]], PayloadHandler[PayloadT]]:
        """Decorator: run the function for each event of ``payload_type``."""

        def register(handler: PayloadHandler[PayloadT]) -> PayloadHandler[PayloadT]:
            self.add(payload_type, handler)
            return handler

        return register

    def add(self, payload_type: type[PayloadT], handler: PayloadHandler[PayloadT]) -> None:
        self._register(payload_type, handler, takes_a_set=False)

    def on_many(
        self, payload_type: type[PayloadT]
    ) -> Callable[[PayloadSetHandler[PayloadT]], PayloadSetHandler[PayloadT]]:
        """Decorator: run the function once for a run of events of ``payload_type``.

        Same effect as one call per event in list order, required (see the module doc).
        """

        def register(handler: PayloadSetHandler[PayloadT]) -> PayloadSetHandler[PayloadT]:
            self.add_many(payload_type, handler)
            return handler

        return register

    def add_many(self, payload_type: type[PayloadT], handler: PayloadSetHandler[PayloadT]) -> None:
        self._register(payload_type, handler, takes_a_set=True)

    def _register(
        self,
        payload_type: type[EventPayload],
        handler: Callable[..., Awaitable[None]],
        *,
        takes_a_set: bool,
    ) -> None:
        registration = self._by_type.setdefault(
            payload_type.event_type, _Registration(payload_type)
        )
        # The registration decodes exactly ``payload_type`` before calling the handler.
        registration.handlers.append((handler, takes_a_set))

    def on_every_event(self, handler: EveryEventHandler) -> EveryEventHandler:
        """Decorator: run the function for every known event, typed handlers first.

        It takes a run of events at once (a list of one for an event applied alone) and
        must have the same effect as one call per event in list order.
        """
        self._every_event.append(handler)
        return handler

    def include(self, other: EventHandlers) -> None:
        """Add another registry's handlers (e.g. the shared client-key read model)."""
        for registration in other._by_type.values():
            for handler, takes_a_set in registration.handlers:
                self._register(registration.payload_type, handler, takes_a_set=takes_a_set)
        self._every_event.extend(other._every_event)

    @property
    def handled_types(self) -> frozenset[str]:
        """Short names of the event types with a typed handler."""
        return frozenset(self._by_type)

    async def __call__(self, session: AsyncSession, event: CloudEvent) -> None:
        """Dispatch one event inside the runner's transaction; never commits."""
        if event.type not in _KNOWN_TYPES:
            raise PermanentEventError(f"unknown event type {event.type!r}")
        registration = self._by_type.get(event.short_type)
        if registration is not None:
            await registration.apply(session, [registration.decode(event)])
        for every_event_handler in self._every_event:
            await every_event_handler(session, [event])

    def run_type(self, event: CloudEvent) -> str | None:
        """The run ``event`` may join with its neighbours, or None (applied alone).

        Events of one type whose handlers all take sets form runs; events without a
        typed handler form one run (:data:`UNTYPED_RUN`) when every-event handlers are
        there to take it.
        """
        if event.type not in _KNOWN_TYPES:
            return None
        registration = self._by_type.get(event.short_type)
        if registration is None:
            return UNTYPED_RUN if self._every_event else None
        return event.short_type if registration.takes_sets else None

    async def apply_run(self, session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        """Dispatch consecutive events of one :meth:`run_type` together; never commits."""
        run_types = {self.run_type(event) for event in events}
        if len(run_types) != 1 or None in run_types:
            raise ValueError(
                f"a run holds events of one run type, not {sorted(map(str, run_types))}"
            )
        registration = self._by_type.get(events[0].short_type)
        if registration is not None:
            await registration.apply(session, [registration.decode(event) for event in events])
        for every_event_handler in self._every_event:
            await every_event_handler(session, events)
