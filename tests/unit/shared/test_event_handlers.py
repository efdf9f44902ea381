"""The handler registry: typed dispatch, and the same permanent failures in every service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.client_keys import client_api_keys_table, client_key_handlers
from aftercare_shared.consumer import EventHandlers, PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ClientApiKeyIssued, TicketClosed, TicketCreated
from aftercare_shared.events.factory import new_event

SESSION = cast(AsyncSession, object())  # the registry only passes it on
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _created() -> CloudEvent:
    payload = TicketCreated(
        ticket_id="t-1",
        client_id="c-1",
        title="Checkout fails",
        severity="high",
        priority="P2",
        status="new",
        fingerprint="fp",
        created_at=AT,
    )
    return new_event(payload, service="intake", subject="t-1", client_id="c-1")


def _with(event: CloudEvent, **changes: Any) -> CloudEvent:
    return event.model_copy(update=changes)


async def test_dispatches_the_decoded_payload_to_its_handlers_in_order() -> None:
    handlers = EventHandlers()
    seen: list[tuple[str, Any]] = []

    @handlers.on(TicketCreated)
    async def first(session: AsyncSession, ticket: TicketCreated) -> None:
        seen.append(("first", ticket))

    async def second(session: AsyncSession, ticket: TicketCreated) -> None:
        seen.append(("second", ticket.ticket_id))

    handlers.add(TicketCreated, second)
    await handlers(SESSION, _created())
    assert [name for name, _ in seen] == ["first", "second"]
    assert isinstance(seen[0][1], TicketCreated)
    assert seen[0][1].priority == "P2"
    assert seen[1][1] == "t-1"


async def test_a_known_type_without_a_handler_is_skipped() -> None:
    handlers = EventHandlers()
    called: list[object] = []

    async def closed(session: AsyncSession, ticket: TicketClosed) -> None:
        called.append(ticket)

    handlers.add(TicketClosed, closed)
    await handlers(SESSION, _created())
    assert called == []
    assert handlers.handled_types == frozenset({"ticket.closed"})


async def test_an_event_type_not_in_the_catalog_is_a_permanent_failure() -> None:
    handlers = EventHandlers()
    every: list[CloudEvent] = []

    @handlers.on_every_event
    async def record(session: AsyncSession, event: CloudEvent) -> None:
        every.append(event)

    unknown = _with(_created(), type="aftercare.ticket.teleported.v1")
    with pytest.raises(PermanentEventError, match="unknown event type"):
        await handlers(SESSION, unknown)
    newer_version = _with(_created(), type="aftercare.ticket.created.v2")
    with pytest.raises(PermanentEventError):
        await handlers(SESSION, newer_version)
    assert every == []  # not even the every-event handlers see it


async def test_a_payload_that_does_not_decode_is_a_permanent_failure() -> None:
    handlers = EventHandlers()
    handled: list[TicketCreated] = []

    async def created(session: AsyncSession, ticket: TicketCreated) -> None:
        handled.append(ticket)

    handlers.add(TicketCreated, created)
    broken = _with(_created(), data={"ticket_id": "t-1", "priority": "P9"})
    with pytest.raises(PermanentEventError, match="bad payload"):
        await handlers(SESSION, broken)
    assert handled == []


async def test_every_event_handlers_run_after_the_typed_ones() -> None:
    handlers = EventHandlers()
    order: list[str] = []

    async def typed(session: AsyncSession, ticket: TicketCreated) -> None:
        order.append("typed")

    async def every(session: AsyncSession, event: CloudEvent) -> None:
        order.append("every")

    handlers.on_every_event(every)
    handlers.add(TicketCreated, typed)
    await handlers(SESSION, _created())
    assert order == ["typed", "every"]


def test_include_merges_another_registry() -> None:
    handlers = EventHandlers()
    handlers.include(client_key_handlers(client_api_keys_table(MetaData())))
    assert {ClientApiKeyIssued.event_type, "client.api_key_revoked"} <= handlers.handled_types
