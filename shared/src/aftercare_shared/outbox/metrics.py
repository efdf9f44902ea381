"""Prometheus metrics of the outbox relay, labelled by service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OUTBOX_PUBLISHED = Counter(
    "aftercare_outbox_published_total",
    "Outbox rows published to Kafka and acknowledged by it",
    ["service"],
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "aftercare_outbox_publish_failures_total",
    "Outbox batches in which Kafka refused or timed out at least one record",
    ["service"],
)
OUTBOX_LAG_SECONDS = Gauge(
    "aftercare_outbox_lag_seconds",
    "Age of the oldest unpublished outbox row, 0 when none",
    ["service"],
)
OUTBOX_RELAY_LEADER = Gauge(
    "aftercare_outbox_relay_leader",
    "1 while this process's relay holds the publishing lock of its schema",
    ["service"],
)
