"""Export the event contracts: one JSON Schema per type and an AsyncAPI 3.0 document.

``python -m aftercare_shared.events.asyncapi docs/events`` regenerates the committed
files; a contract test fails when the code and the documents drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from aftercare_shared.events.catalog import PAYLOAD_TYPES, EventPayload
from aftercare_shared.events.envelope import CloudEvent, full_event_type
from aftercare_shared.topics import topic_for_event_type

_PRODUCERS = {
    "client": "intake",
    "staff": "intake",
    "ticket": "intake",
    "sla": "sla",
    "report": "sla",
    "release": "releases",
    "advisory": "releases",
    "notification": "notify",
    "monitor": "intake",
}


def _message_name(payload: type[EventPayload]) -> str:
    return payload.__name__


def event_schema(payload: type[EventPayload]) -> dict[str, Any]:
    """The whole CloudEvent for one type: envelope attributes plus its ``data`` schema."""
    envelope = CloudEvent.model_json_schema()
    data_schema = payload.model_json_schema(ref_template="#/$defs/{model}")
    definitions = data_schema.pop("$defs", {})
    envelope["properties"]["type"] = {"const": full_event_type(payload.event_type)}
    envelope["properties"]["data"] = data_schema
    envelope["title"] = full_event_type(payload.event_type)
    if definitions:
        envelope["$defs"] = {**envelope.get("$defs", {}), **definitions}
    envelope["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return envelope


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for payload in PAYLOAD_TYPES:
        event_type = full_event_type(payload.event_type)
        topic = topic_for_event_type(event_type)
        channel_id = topic.replace(".", "_")
        name = _message_name(payload)
        messages[name] = {
            "name": event_type,
            "title": payload.event_type,
            "summary": (payload.__doc__ or event_type).strip().splitlines()[0],
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"schemas/{event_type}.json"},
        }
        channel = channels.setdefault(
            channel_id,
            {
                "address": topic,
                "description": "Record key = the aggregate id (CloudEvent subject).",
                "messages": {},
            },
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        producer = _PRODUCERS[payload.event_type.split(".")[0]]
        operation = operations.setdefault(
            f"{producer}_publishes_{channel_id}",
            {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{producer} publishes to {topic} through its transactional outbox",
                "messages": [],
            },
        )
        operation["messages"].append({"$ref": f"#/channels/{channel_id}/messages/{name}"})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Aftercare events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 in structured JSON mode on Kafka. Within a .v1 "
            "type only additive changes are made; a breaking change is a new type.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered_documents() -> dict[str, bytes]:
    """Relative path → file content, for every document we publish."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    documents = {"asyncapi.json": orjson.dumps(asyncapi_document(), option=options) + b"\n"}
    for payload in PAYLOAD_TYPES:
        event_type = full_event_type(payload.event_type)
        documents[f"schemas/{event_type}.json"] = (
            orjson.dumps(event_schema(payload), option=options) + b"\n"
        )
    return documents


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "docs/events")
    for relative, content in rendered_documents().items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    print(f"wrote {len(rendered_documents())} documents under {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
