"""notify's handler registry: the key read model, the fan-out, and what goes to the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_notify.consumers import build_handlers
from aftercare_notify.settings import NotifySettings
from aftercare_shared.consumer import EventHandlers, PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ClientApiKeyIssued, TicketCreated
from aftercare_shared.events.factory import new_event
from aftercare_shared.settings import CommonSettings

# Every case here is refused before the database is touched; a session would be misused.
SESSION = cast(AsyncSession, object())
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _handlers() -> EventHandlers:
    common = CommonSettings(admin_token="unit-test-admin-token-0123456789")
    return build_handlers(NotifySettings(common=common))


def _ticket_created() -> CloudEvent:
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


def _key_issued() -> CloudEvent:
    payload = ClientApiKeyIssued(
        api_key_id="k-1", client_id="c-1", key_hash="h", prefix="ak_x", created_at=AT
    )
    return new_event(payload, service="intake", subject="c-1", client_id="c-1")


def test_the_registry_keeps_the_client_key_and_calendar_read_models() -> None:
    assert _handlers().handled_types == {
        "client.api_key_issued",
        "client.api_key_revoked",
        "staff.token_issued",
        "staff.token_revoked",
        "sla.client_plan_assigned",
        "sla.client_plan_unassigned",
    }


@pytest.mark.parametrize(
    "event_type",
    [
        "aftercare.ticket.created.v2",  # a version this build does not know
        "aftercare.ticket.exploded.v1",
        "aftercare.advisory.exploded.v1",  # an unknown verb of a known entity
    ],
)
async def test_a_type_outside_the_catalog_is_permanent(event_type: str) -> None:
    event = _ticket_created().model_copy(update={"type": event_type})
    with pytest.raises(PermanentEventError, match="unknown event type"):
        await _handlers()(SESSION, event)


@pytest.mark.parametrize(
    ("event", "data"),
    [
        # A type with a typed handler (the key read model) …
        (_key_issued(), {"api_key_id": "k-1"}),
        # … and one only the fan-out sees: neither is passed on with a broken payload.
        (_ticket_created(), {"ticket_id": "t-1", "priority": "P9"}),
    ],
)
async def test_an_undecodable_payload_is_permanent(event: CloudEvent, data: dict[str, Any]) -> None:
    with pytest.raises(PermanentEventError, match="bad payload"):
        await _handlers()(SESSION, event.model_copy(update={"data": data}))
