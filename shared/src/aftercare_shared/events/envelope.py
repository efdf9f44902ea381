"""The CloudEvents 1.0 envelope in structured JSON mode.

The Kafka record value (and a webhook body) is the whole event, so any CloudEvents
reader — ``kcat``, the official SDKs — understands it without our code.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"


class EventDecodeError(ValueError):
    """A record that is not a valid Aftercare CloudEvent."""


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1, pattern=r"^/aftercare/[a-z]+$")
    type: str = Field(min_length=1, pattern=r"^aftercare\.[a-z_]+\.[a-z_]+\.v[0-9]+$")
    time: datetime
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    clientid: str | None = None
    traceparent: str | None = None

    @field_validator("time")
    @classmethod
    def _require_aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a time zone")
        return value.astimezone(UTC)

    @property
    def short_type(self) -> str:
        """``aftercare.ticket.created.v1`` → ``ticket.created`` (what subscriptions name)."""
        return short_event_type(self.type)

    def to_json_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_json_bytes(cls, raw: bytes | str) -> CloudEvent:
        try:
            return cls.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError) as error:
            raise EventDecodeError(f"not an Aftercare CloudEvent: {error}") from error


def short_event_type(event_type: str) -> str:
    parts = event_type.split(".")
    return ".".join(parts[1:-1]) if len(parts) >= 4 else event_type


def full_event_type(short_type: str, version: int = 1) -> str:
    return f"aftercare.{short_type}.v{version}"


def new_event_id() -> str:
    return str(uuid.uuid4())
