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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.consumer.processing import EventHandler, PermanentEventError
from aftercare_shared.events.catalog import PAYLOADS_BY_SHORT_TYPE, EventPayload
from aftercare_shared.events.envelope import CloudEvent, EventDecodeError, full_event_type
from aftercare_shared.events.factory import payload_as

PayloadT = TypeVar("PayloadT", bound=EventPayload)
PayloadHandler = Callable[[AsyncSession, PayloadT], Awaitable[None]]

_KNOWN_TYPES = frozenset(full_event_type(short_type) for short_type in PAYLOADS_BY_SHORT_TYPE)


class _Registration:
    """One payload type's handlers, kept untyped inside the registry."""

    def __init__(self, payload_type: type[EventPayload]) -> None:
        self.payload_type = payload_type
        self.handlers: list[Callable[[AsyncSession, EventPayload], Awaitable[None]]] = []


class EventHandlers:
    """Typed handlers by event type, plus optional handlers for every event."""

    def __init__(self) -> None:
        self._by_type: dict[str, _Registration] = {}
        self._every_event: list[EventHandler] = []

    def on(
        self, payload_type: type[PayloadT]
    ) -> Callable[[PayloadHandler[PayloadT]], PayloadHandler[PayloadT]]:
        """Decorator: run the function for each event of ``payload_type``."""

        def register(handler: PayloadHandler[PayloadT]) -> PayloadHandler[PayloadT]:
            self.add(payload_type, handler)
            return handler

        return register

    def add(self, payload_type: type[PayloadT], handler: PayloadHandler[PayloadT]) -> None:
        registration = self._by_type.setdefault(
            payload_type.event_type, _Registration(payload_type)
        )
        # The registration decodes exactly ``payload_type`` before calling the handler.
        registration.handlers.append(handler)  # type: ignore[arg-type]

    def on_every_event(self, handler: EventHandler) -> EventHandler:
        """Decorator: run the function for every known event, typed handlers first."""
        self._every_event.append(handler)
        return handler

    def include(self, other: EventHandlers) -> None:
        """Add another registry's handlers (e.g. the shared client-key read model)."""
        for registration in other._by_type.values():
            for handler in registration.handlers:
                self.add(registration.payload_type, handler)
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
            try:
                payload = payload_as(event, registration.payload_type)
            except EventDecodeError as error:
                raise PermanentEventError(str(error)) from error
            for handler in registration.handlers:
                await handler(session, payload)
        for every_event_handler in self._every_event:
            await every_event_handler(session, event)
