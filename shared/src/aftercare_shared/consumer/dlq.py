"""Dead letters: the original record, plus headers saying why and where it came from."""

from __future__ import annotations

from collections.abc import Iterable

DLQ_HEADER_PREFIX = "dlq-"
DLQ_ERROR_CLASS = "dlq-error-class"
DLQ_ERROR_MESSAGE = "dlq-error-message"
DLQ_ATTEMPTS = "dlq-attempts"
DLQ_SOURCE_TOPIC = "dlq-source-topic"
DLQ_SOURCE_PARTITION = "dlq-source-partition"
DLQ_SOURCE_OFFSET = "dlq-source-offset"
DLQ_SERVICE = "dlq-service"
DLQ_CONSUMER_GROUP = "dlq-consumer-group"

# Headers travel with every copy of the record; a stack-trace-sized message does not belong.
MAX_ERROR_MESSAGE_CHARS = 2000


def error_class_name(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


def dead_letter_headers(
    *,
    original_headers: Iterable[tuple[str, bytes]],
    error: BaseException,
    attempts: int,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    service: str,
    consumer_group: str,
) -> list[tuple[str, bytes]]:
    """The original headers followed by ours.

    A record replayed from a DLQ that fails again carries only the latest failure's
    headers, never two conflicting sets.
    """
    kept = [
        (name, value) for name, value in original_headers if not name.startswith(DLQ_HEADER_PREFIX)
    ]
    added = {
        DLQ_ERROR_CLASS: error_class_name(error),
        DLQ_ERROR_MESSAGE: str(error)[:MAX_ERROR_MESSAGE_CHARS],
        DLQ_ATTEMPTS: str(attempts),
        DLQ_SOURCE_TOPIC: source_topic,
        DLQ_SOURCE_PARTITION: str(source_partition),
        DLQ_SOURCE_OFFSET: str(source_offset),
        DLQ_SERVICE: service,
        DLQ_CONSUMER_GROUP: consumer_group,
    }
    return kept + [(name, value.encode()) for name, value in added.items()]
