"""Event contracts: the CloudEvents envelope and the typed payloads it carries."""

from aftercare_shared.events.envelope import (
    STRUCTURED_CONTENT_TYPE,
    CloudEvent,
    EventDecodeError,
    short_event_type,
)

__all__ = ["STRUCTURED_CONTENT_TYPE", "CloudEvent", "EventDecodeError", "short_event_type"]
