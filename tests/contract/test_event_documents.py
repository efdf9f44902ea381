"""The published event contracts (JSON Schema, AsyncAPI) match the code that produces events."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import orjson
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel

from aftercare_shared.events.asyncapi import asyncapi_document, rendered_documents
from aftercare_shared.events.catalog import PAYLOAD_TYPES, EventPayload
from aftercare_shared.events.envelope import full_event_type
from aftercare_shared.events.factory import new_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


def test_committed_documents_are_up_to_date() -> None:
    stale = [
        relative
        for relative, content in rendered_documents().items()
        if not (DOCS / relative).exists() or (DOCS / relative).read_bytes() != content
    ]
    assert stale == [], (
        "regenerate with: uv run python -m aftercare_shared.events.asyncapi docs/events"
    )


def test_asyncapi_lists_every_topic_with_its_messages() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {
        "aftercare.clients",
        "aftercare.tickets",
        "aftercare.sla",
        "aftercare.releases",
        "aftercare.notifications",
        "aftercare.monitors",
    }


# --- every catalogue event against its committed JSON Schema, with a real validator -----

AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def example_value(annotation: Any, *, full: bool) -> Any:
    """A value of ``annotation``: every optional part present when ``full``, else absent."""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        present = [argument for argument in arguments if argument is not type(None)]
        return example_value(present[0], full=full) if full else None
    if origin is Literal:
        return arguments[-1]
    if origin is list:
        return [example_value(arguments[0], full=full)]
    if origin is dict:
        return {"key": example_value(arguments[1], full=full)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return example_model(annotation, full=full)
    simple: dict[Any, Any] = {str: "text", int: 3, float: 2.5, bool: True, datetime: AT}
    if annotation is Any:
        return {"any": ["json", 1]}
    return simple[annotation]


def example_model(model: type[BaseModel], *, full: bool) -> BaseModel:
    values = {
        name: example_value(field.annotation, full=full)
        for name, field in model.model_fields.items()
        if full or field.is_required()
    }
    return model.model_validate(values)


def committed_validator(payload: type[EventPayload]) -> Draft202012Validator:
    document = orjson.loads(
        (DOCS / "schemas" / f"{full_event_type(payload.event_type)}.json").read_bytes()
    )
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def wire_event(payload: EventPayload) -> dict[str, Any]:
    event = new_event(payload, service="intake", subject="aggregate-1", client_id="c-1")
    wire: dict[str, Any] = orjson.loads(event.to_json_bytes())
    return wire


@pytest.mark.parametrize("full", [True, False], ids=["every-field", "required-only"])
@pytest.mark.parametrize("payload", PAYLOAD_TYPES, ids=lambda payload: payload.event_type)
def test_every_catalogue_event_validates_against_its_committed_schema(
    payload: type[EventPayload], full: bool
) -> None:
    validator = committed_validator(payload)
    wire = wire_event(example_model(payload, full=full))  # type: ignore[arg-type]
    errors = [error.message for error in validator.iter_errors(wire)]
    assert errors == []


@pytest.mark.parametrize("payload", PAYLOAD_TYPES, ids=lambda payload: payload.event_type)
def test_the_committed_schema_refuses_a_broken_event(payload: type[EventPayload]) -> None:
    """The validator really checks: a wrong type, a missing attribute or data field, or a
    data field of the wrong type is refused."""
    validator = committed_validator(payload)
    wire = wire_event(example_model(payload, full=True))  # type: ignore[arg-type]
    required = validator.schema["properties"]["data"].get("required", [])
    broken = [
        {**wire, "type": "aftercare.something.else.v1"},
        {key: value for key, value in wire.items() if key != "id"},
        *(
            {**wire, "data": {k: v for k, v in wire["data"].items() if k != name}}
            for name in required
        ),
    ]
    for event in broken:
        with pytest.raises(ValidationError):
            validator.validate(event)
    # Every data field has a type: an object or a list of lists is wrong for each of them.
    for name in wire["data"]:
        wrong_values = ({"not": "this"}, [[1]])
        refused = [
            value
            for value in wrong_values
            if not validator.is_valid({**wire, "data": {**wire["data"], name: value}})
        ]
        assert refused, f"data.{name} accepts anything"
