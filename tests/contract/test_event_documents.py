"""The published event contracts (JSON Schema, AsyncAPI) match the code that produces events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from aftercare_shared.events.asyncapi import asyncapi_document, event_schema, rendered_documents
from aftercare_shared.events.catalog import ReleasePublished
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


def test_a_real_event_satisfies_its_published_schema() -> None:
    event = new_event(
        ReleasePublished(
            release_id="r-1",
            product="shop",
            version="1.0.1",
            kind="security",
            ticket_ids=["t-1"],
            published_at=datetime(2026, 11, 27, tzinfo=UTC),
        ),
        service="releases",
        subject="r-1",
    )
    schema = event_schema(ReleasePublished)
    wire = orjson.loads(event.to_json_bytes())
    assert wire["type"] == schema["properties"]["type"]["const"]
    assert set(schema["required"]) <= wire.keys()
    assert set(schema["properties"]["data"]["required"]) <= wire["data"].keys()
