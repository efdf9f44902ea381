"""Prometheus metrics of event consumers, labelled by service and source topic."""

from __future__ import annotations

from prometheus_client import Counter

CONSUMER_PROCESSED = Counter(
    "aftercare_consumer_events_processed_total",
    "Events applied by a handler and committed",
    ["service", "topic"],
)
CONSUMER_DUPLICATES = Counter(
    "aftercare_consumer_duplicate_events_total",
    "Events skipped because the inbox shows them already applied",
    ["service", "topic"],
)
CONSUMER_FAILED = Counter(
    "aftercare_consumer_handler_failures_total",
    "Handler attempts that raised (each retry counts)",
    ["service", "topic"],
)
CONSUMER_DEAD_LETTERED = Counter(
    "aftercare_consumer_dead_lettered_total",
    "Records sent to the service's dead-letter topic",
    ["service", "topic"],
)
