"""Event consumers: a DB transaction per polled batch, inbox de-duplication, retries, DLQ."""

from aftercare_shared.consumer.dlq import (
    DLQ_ATTEMPTS,
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_CLASS,
    DLQ_ERROR_MESSAGE,
    DLQ_SERVICE,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
)
from aftercare_shared.consumer.handlers import EventHandlers
from aftercare_shared.consumer.processing import EventHandler, PermanentEventError
from aftercare_shared.consumer.runner import ConsumerRunner

__all__ = [
    "DLQ_ATTEMPTS",
    "DLQ_CONSUMER_GROUP",
    "DLQ_ERROR_CLASS",
    "DLQ_ERROR_MESSAGE",
    "DLQ_SERVICE",
    "DLQ_SOURCE_OFFSET",
    "DLQ_SOURCE_PARTITION",
    "DLQ_SOURCE_TOPIC",
    "ConsumerRunner",
    "EventHandler",
    "EventHandlers",
    "PermanentEventError",
]
