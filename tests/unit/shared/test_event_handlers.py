"""The handler registry: typed dispatch, and the same permanent failures in every service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.client_keys import client_api_keys_table, client_key_handlers
from aftercare_shared.consumer import EventHandlers, PermanentEventError
from aftercare_shared.consumer.handlers import UNTYPED_RUN
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ClientApiKeyIssued, TicketClosed, TicketCreated
from aftercare_shared.events.envelope import full_event_type, new_event_id
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


def _closed() -> CloudEvent:
    return _with(_created(), type=full_event_type(TicketClosed.event_type))


def _untyped() -> CloudEvent:
    """An event of a catalog type no typed handler here takes."""
    return _with(_created(), type="aftercare.ticket.reopened.v1", id=new_event_id())


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
    async def record(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        every.extend(events)

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

    async def every(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        order.append(f"every {len(events)}")

    handlers.on_every_event(every)
    handlers.add(TicketCreated, typed)
    await handlers(SESSION, _created())
    assert order == ["typed", "every 1"]


def test_include_merges_another_registry() -> None:
    handlers = EventHandlers()
    handlers.include(client_key_handlers(client_api_keys_table(MetaData())))
    assert {ClientApiKeyIssued.event_type, "client.api_key_revoked"} <= handlers.handled_types


async def test_a_set_based_handler_gets_a_list_of_one_for_a_single_event() -> None:
    handlers = EventHandlers()
    calls: list[list[str]] = []

    @handlers.on_many(TicketCreated)
    async def created(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
        calls.append([ticket.ticket_id for ticket in tickets])

    await handlers(SESSION, _created())
    assert calls == [["t-1"]]


async def test_a_run_goes_to_set_based_handlers_in_one_call_and_per_event_ones_in_order() -> None:
    handlers = EventHandlers()
    seen: list[object] = []

    @handlers.on_many(TicketCreated)
    async def created(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
        seen.append([ticket.ticket_id for ticket in tickets])

    first, second = _created(), _with(_created(), subject="t-2")
    assert handlers.run_type(first) == "ticket.created"
    await handlers.apply_run(SESSION, [first, second])
    assert seen == [["t-1", "t-1"]]


def test_only_types_whose_handlers_all_take_sets_form_runs() -> None:
    handlers = EventHandlers()

    async def one(session: AsyncSession, ticket: TicketCreated) -> None: ...

    async def many(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None: ...

    handlers.add_many(TicketCreated, many)
    assert handlers.run_type(_created()) == "ticket.created"
    handlers.add(TicketCreated, one)
    assert handlers.run_type(_created()) is None, "a per-event handler of the type"
    unhandled = EventHandlers()
    assert unhandled.run_type(_created()) is None


def test_every_event_handlers_join_runs_and_gather_the_untyped_events_in_one() -> None:
    handlers = EventHandlers()

    async def many(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None: ...

    async def one(session: AsyncSession, ticket: TicketClosed) -> None: ...

    async def every(session: AsyncSession, events: Sequence[CloudEvent]) -> None: ...

    handlers.add_many(TicketCreated, many)
    handlers.add(TicketClosed, one)
    assert handlers.run_type(_untyped()) is None, "no every-event handler: nothing to run"
    handlers.on_every_event(every)
    assert handlers.run_type(_created()) == "ticket.created"
    assert handlers.run_type(_closed()) is None, "a per-event typed handler: alone"
    assert handlers.run_type(_untyped()) == UNTYPED_RUN
    assert handlers.run_type(_with(_untyped(), type="aftercare.sla.breached.v1")) == UNTYPED_RUN


async def test_a_run_goes_to_the_typed_handlers_then_to_the_every_event_ones() -> None:
    handlers = EventHandlers()
    calls: list[tuple[str, list[str]]] = []

    @handlers.on_many(TicketCreated)
    async def created(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
        calls.append(("typed", [ticket.ticket_id for ticket in tickets]))

    @handlers.on_every_event
    async def every(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        calls.append(("every", [event.id for event in events]))

    first, second = _created(), _created()
    await handlers.apply_run(SESSION, [first, second])
    assert calls == [("typed", ["t-1", "t-1"]), ("every", [first.id, second.id])]
    calls.clear()
    untyped = [_untyped(), _with(_untyped(), type="aftercare.sla.breached.v1")]
    await handlers.apply_run(SESSION, untyped)
    assert calls == [("every", [event.id for event in untyped])]
    with pytest.raises(ValueError, match="one run type"):
        await handlers.apply_run(SESSION, [first, *untyped])


async def test_a_run_with_a_payload_that_does_not_decode_is_a_permanent_failure() -> None:
    handlers = EventHandlers()
    seen: list[object] = []

    @handlers.on_many(TicketCreated)
    async def created(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None:
        seen.append(tickets)

    broken = _with(_created(), data={"ticket_id": "t-1", "priority": "P9"})
    with pytest.raises(PermanentEventError):
        await handlers.apply_run(SESSION, [_created(), broken])
    assert seen == []


def test_include_keeps_set_based_handlers_set_based() -> None:
    shared = EventHandlers()

    async def many(session: AsyncSession, tickets: Sequence[TicketCreated]) -> None: ...

    shared.add_many(TicketCreated, many)
    handlers = EventHandlers()
    handlers.include(shared)
    assert handlers.run_type(_created()) == "ticket.created"
