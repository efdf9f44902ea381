"""Prometheus metrics of webhook fan-out and delivery."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERY_ATTEMPTS = Counter(
    "aftercare_notify_delivery_attempts_total",
    "Webhook delivery attempts made (every HTTP call, and every attempt refused before one)",
)
DELIVERIES_SUCCEEDED = Counter(
    "aftercare_notify_deliveries_succeeded_total",
    "Deliveries that got a 2xx answer",
)
DELIVERY_ATTEMPTS_FAILED = Counter(
    "aftercare_notify_delivery_attempt_failures_total",
    "Attempts that did not get a 2xx answer (a retry may follow)",
)
DELIVERIES_FAILED = Counter(
    "aftercare_notify_deliveries_failed_total",
    "Deliveries given up on: schedule exhausted, 410 Gone, or endpoint disabled",
)
DELIVERY_LATENCY_SECONDS = Histogram(
    "aftercare_notify_delivery_latency_seconds",
    "Time from sending a webhook request to having its (truncated) response",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
FANOUT_LAG_SECONDS = Histogram(
    "aftercare_notify_fanout_lag_seconds",
    "Kafka→notify lag: time from an event's `time` to notify fanning it out",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
ENDPOINTS_DISABLED = Counter(
    "aftercare_notify_endpoints_disabled_total",
    "Endpoints disabled automatically (410 Gone or failing for too long)",
)
