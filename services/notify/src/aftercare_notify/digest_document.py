"""The webhook body of a digest (``aftercare.notify.digest``), and its published schema.

Regenerate the committed JSON Schema with
``uv run python -m aftercare_notify.digest_document docs/events/webhooks``
(a unit test fails when it drifts from this model).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from aftercare_notify.domain.grouping import DIGEST_EVENT_TYPE

SCHEMA_FILE = f"{DIGEST_EVENT_TYPE}.json"


class DigestDocument(BaseModel):
    """Several events of one group, sent as one signed webhook (``webhook-id`` = ``id``)."""

    type: Literal["aftercare.notify.digest"] = Field(description="Always this value.")
    id: str = Field(description="The digest's id, sent as `webhook-id` (the same on retries).")
    endpoint_id: str
    group_id: str = Field(description="The group (stable while it exists).")
    group: dict[str, str | None] = Field(
        description="The endpoint's `group_by` fields and this group's values of them."
    )
    part: int = Field(ge=1, description="Which message of this flush (over `group_max_events`).")
    parts: int = Field(ge=1, description="How many messages this flush of the group sent.")
    count: int = Field(ge=1, description="How many events `events` lists.")
    time: datetime = Field(description="When the group was flushed.")
    events: list[dict[str, Any]] = Field(
        description="The events, oldest first, each the CloudEvent (structured JSON) an "
        "ungrouped endpoint receives."
    )


def schema_document() -> bytes:
    schema = DigestDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:aftercare:webhooks:{DIGEST_EVENT_TYPE}"
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main(argv: list[str]) -> None:
    folder = Path(argv[0]) if argv else Path("docs/events/webhooks")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SCHEMA_FILE).write_bytes(schema_document())


if __name__ == "__main__":
    main(sys.argv[1:])
