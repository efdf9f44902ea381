"""The CloudEvents envelope: what goes on the wire and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from aftercare_shared.events import CloudEvent, EventDecodeError
from aftercare_shared.events.catalog import PAYLOAD_TYPES, TicketCreated, payload_json_schemas
from aftercare_shared.events.factory import decode_payload, new_event
from aftercare_shared.observability.tracing import bind_traceparent, clear_trace, parse_trace_id


def _ticket_created() -> TicketCreated:
    return TicketCreated(
        ticket_id="t-1",
        client_id="c-1",
        title="Checkout fails",
        severity="critical",
        priority="P1",
        status="new",
        fingerprint="fp",
        created_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )


def test_new_event_fills_every_required_attribute() -> None:
    event = new_event(_ticket_created(), service="intake", subject="t-1", client_id="c-1")
    wire = orjson.loads(event.to_json_bytes())
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "aftercare.ticket.created.v1"
    assert wire["source"] == "/aftercare/intake"
    assert wire["subject"] == "t-1"
    assert wire["datacontenttype"] == "application/json"
    assert wire["clientid"] == "c-1"
    assert wire["data"]["priority"] == "P1"
    assert {"id", "time"} <= wire.keys()


def test_round_trip_keeps_the_event_and_its_payload() -> None:
    event = new_event(_ticket_created(), service="intake", subject="t-1")
    decoded = CloudEvent.from_json_bytes(event.to_json_bytes())
    assert decoded == event
    assert decode_payload(decoded) == _ticket_created()


def test_the_request_trace_travels_into_the_event() -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    bind_traceparent(incoming)
    try:
        event = new_event(_ticket_created(), service="intake", subject="t-1")
    finally:
        clear_trace()
    assert parse_trace_id(event.traceparent) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event.traceparent != incoming  # same trace, new span


def test_time_is_normalised_to_utc() -> None:
    event = new_event(_ticket_created(), service="intake", subject="t-1")
    shifted = event.model_copy(update={"time": event.time.astimezone(timezone(timedelta(hours=5)))})
    again = CloudEvent.from_json_bytes(shifted.to_json_bytes())
    assert again.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"specversion": "1.0"}',
        orjson.dumps(
            {
                "specversion": "0.3",
                "id": "1",
                "source": "/aftercare/intake",
                "type": "aftercare.ticket.created.v1",
                "time": "2026-11-27T12:00:00Z",
                "subject": "t",
                "data": {},
            }
        ),
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": "1",
                "source": "somewhere-else",
                "type": "aftercare.ticket.created.v1",
                "time": "2026-11-27T12:00:00Z",
                "subject": "t",
                "data": {},
            }
        ),
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": "1",
                "source": "/aftercare/intake",
                "type": "aftercare.ticket.created.v1",
                "time": "2026-11-27T12:00:00",
                "subject": "t",
                "data": {},
            }
        ),
    ],
)
def test_malformed_records_are_refused(raw: bytes) -> None:
    with pytest.raises(EventDecodeError):
        CloudEvent.from_json_bytes(raw)


def test_a_bad_payload_is_a_decode_error_not_a_crash() -> None:
    event = new_event(_ticket_created(), service="intake", subject="t-1")
    broken = event.model_copy(update={"data": {"ticket_id": "t-1"}})
    with pytest.raises(EventDecodeError):
        decode_payload(broken)


def test_unknown_types_decode_to_none_for_forward_compatibility() -> None:
    event = new_event(_ticket_created(), service="intake", subject="t-1")
    future = event.model_copy(update={"type": "aftercare.ticket.teleported.v1"})
    assert decode_payload(future) is None


def test_every_payload_has_a_unique_type_and_a_schema() -> None:
    names = [payload.event_type for payload in PAYLOAD_TYPES]
    assert len(names) == len(set(names))
    schemas = payload_json_schemas()
    assert len(schemas) == len(names)
    assert schemas["aftercare.ticket.created.v1"]["required"][:2] == ["ticket_id", "client_id"]
