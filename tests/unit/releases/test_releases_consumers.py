"""The releases consumer's registry: what it reads, and what it refuses for good."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases.consumers import handlers
from aftercare_shared.consumer import PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    ClientApiKeyRevoked,
    SlaBreached,
    StaffTokenIssued,
    StaffTokenRevoked,
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_shared.events.factory import new_event

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class UntouchableSession:
    """A session that fails the test if a handler reaches the database."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the database was used ({name}) for an event it must not apply")


SESSION = cast(AsyncSession, UntouchableSession())


def hand_made(event_type: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/aftercare/intake",
        type=event_type,
        time=AT,
        subject="t-1",
        data=data,
    )


def test_the_registry_keeps_the_ticket_and_client_key_read_models() -> None:
    assert handlers.handled_types == {
        payload.event_type
        for payload in (
            ClientApiKeyIssued,
            ClientApiKeyRevoked,
            StaffTokenIssued,
            StaffTokenRevoked,
            TicketCreated,
            TicketUpdated,
            TicketResolved,
            TicketReopened,
            TicketClosed,
        )
    }


@pytest.mark.parametrize(
    "event_type",
    [
        "aftercare.ticket.teleported.v1",  # a type this build has never heard of
        "aftercare.ticket.created.v2",  # a newer, breaking version of a known one
        "aftercare.release.teleported.v1",  # an unknown verb of a known entity
    ],
)
async def test_an_event_type_not_in_the_catalog_is_a_permanent_error(event_type: str) -> None:
    with pytest.raises(PermanentEventError, match="unknown event type"):
        await handlers(SESSION, hand_made(event_type, {"ticket_id": "t-1"}))


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("aftercare.ticket.created.v1", {"ticket_id": "t-1"}),
        (
            "aftercare.ticket.reopened.v1",
            {
                "ticket_id": "t-1",
                "client_id": "c-1",
                "reopened_at": AT.isoformat(),
                "status": "escalated",  # not a ticket status
            },
        ),
        (
            "aftercare.client.api_key_issued.v1",
            {"api_key_id": "k-1", "client_id": "c-1"},
        ),
    ],
)
async def test_a_payload_that_does_not_decode_is_a_permanent_error(
    event_type: str, data: dict[str, Any]
) -> None:
    with pytest.raises(PermanentEventError, match="bad payload"):
        await handlers(SESSION, hand_made(event_type, data))


async def test_catalog_events_this_service_does_not_use_are_skipped() -> None:
    breached = SlaBreached(
        ticket_id="t-1",
        client_id="c-1",
        metric="resolution",
        plan_id=None,
        priority="P1",
        started_at=AT,
        due_at=AT,
        occurred_at=AT,
    )
    await handlers(SESSION, new_event(breached, service="sla", subject="t-1"))
