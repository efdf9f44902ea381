"""Build and read events: the only way services turn payloads into envelopes and back."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import PAYLOADS_BY_SHORT_TYPE, EventPayload
from aftercare_shared.events.envelope import (
    CloudEvent,
    EventDecodeError,
    full_event_type,
    new_event_id,
)
from aftercare_shared.observability.tracing import current_traceparent

PayloadT = TypeVar("PayloadT", bound=EventPayload)


def new_event(
    payload: EventPayload,
    *,
    service: str,
    subject: str,
    client_id: str | None = None,
) -> CloudEvent:
    """Wrap a payload; the current request's trace context travels with it."""
    return CloudEvent(
        id=new_event_id(),
        source=f"/aftercare/{service}",
        type=full_event_type(payload.event_type),
        time=utc_now(),
        subject=subject,
        data=payload.model_dump(mode="json"),
        clientid=client_id,
        traceparent=current_traceparent(),
    )


def decode_payload(event: CloudEvent) -> EventPayload | None:
    """The typed payload, or None for an event type this build does not know."""
    payload_type = PAYLOADS_BY_SHORT_TYPE.get(event.short_type)
    if payload_type is None:
        return None
    try:
        return payload_type.model_validate(event.data)
    except ValidationError as error:
        raise EventDecodeError(f"{event.type} {event.id}: bad payload: {error}") from error


def payload_as(event: CloudEvent, payload_type: type[PayloadT]) -> PayloadT:
    try:
        return payload_type.model_validate(event.data)
    except ValidationError as error:
        raise EventDecodeError(f"{event.type} {event.id}: bad payload: {error}") from error
