"""sla's handler registry: what it handles, skips and refuses (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.consumer.processing import PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    ClientApiKeyRevoked,
    ClientCreated,
    ClientUpdated,
    StaffTokenIssued,
    StaffTokenRevoked,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketOccurred,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_shared.events.envelope import full_event_type
from aftercare_sla.consumers import handlers
from aftercare_sla.reports.ingest import report_handlers

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class UntouchableSession:
    """Stands in for the runner's session where the registry must not use it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the session was used ({name})")


def untouchable_session() -> AsyncSession:
    return cast(AsyncSession, UntouchableSession())


def hand_made_event(short_type: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/aftercare/intake",
        type=full_event_type(short_type),
        time=NOW,
        subject="ticket-1",
        data=data,
    )


def test_sla_handles_client_and_ticket_events_the_client_keys_and_the_reports() -> None:
    assert (
        handlers.handled_types
        == {
            payload.event_type
            for payload in (
                ClientCreated,
                ClientUpdated,
                ClientApiKeyIssued,
                ClientApiKeyRevoked,
                StaffTokenIssued,
                StaffTokenRevoked,
                TicketCreated,
                TicketUpdated,
                TicketCommented,
                TicketResolved,
                TicketClosed,
                TicketReopened,
            )
        }
        | report_handlers.handled_types
    )


async def test_an_event_type_not_in_the_catalog_is_a_permanent_failure() -> None:
    event = hand_made_event("ticket.teleported", {"ticket_id": "ticket-1"})

    with pytest.raises(PermanentEventError, match="unknown event type"):
        await handlers(untouchable_session(), event)


async def test_a_payload_that_does_not_decode_is_a_permanent_failure() -> None:
    # ticket.reopened without reopened_at, and with a status the catalog does not know.
    event = hand_made_event(
        TicketReopened.event_type,
        {"ticket_id": "ticket-1", "client_id": "client-1", "status": "archived"},
    )

    with pytest.raises(PermanentEventError):
        await handlers(untouchable_session(), event)


async def test_a_catalog_type_sla_does_not_handle_is_skipped() -> None:
    occurred = TicketOccurred(
        ticket_id="ticket-1", client_id="client-1", occurrences=2, occurred_at=NOW
    )
    event = hand_made_event(occurred.event_type, occurred.model_dump(mode="json"))

    await handlers(untouchable_session(), event)  # no error, and the session is not used
