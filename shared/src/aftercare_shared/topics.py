"""The Kafka topic catalog, and a command that creates every topic idempotently.

Run ``python -m aftercare_shared.topics`` (reads ``AFTERCARE_KAFKA_BOOTSTRAP_SERVERS``,
``AFTERCARE_TOPIC_PARTITIONS``, ``AFTERCARE_TOPIC_REPLICATION_FACTOR`` and
``AFTERCARE_TOPIC_MIN_INSYNC_REPLICAS``; `make up KAFKA_BROKERS=3` sets 3 and 2).
"""

from __future__ import annotations

import asyncio
import os
import sys

from aftercare_shared.names import SERVICE_NAMES

CLIENTS = "aftercare.clients"
TICKETS = "aftercare.tickets"
SLA = "aftercare.sla"
RELEASES = "aftercare.releases"
NOTIFICATIONS = "aftercare.notifications"
MONITORS = "aftercare.monitors"

EVENT_TOPICS: tuple[str, ...] = (CLIENTS, TICKETS, SLA, RELEASES, NOTIFICATIONS, MONITORS)
SERVICES: tuple[str, ...] = tuple(service.value for service in SERVICE_NAMES)

# Event entity (the part after "aftercare.") → the topic that carries it.
_ENTITY_TOPICS: dict[str, str] = {
    "client": CLIENTS,
    "staff": CLIENTS,  # staff token read-model events ride with the client keys'
    "ticket": TICKETS,
    "sla": SLA,
    "report": SLA,
    "release": RELEASES,
    "advisory": RELEASES,
    "notification": NOTIFICATIONS,
    "monitor": MONITORS,
}


def dlq_topic(service: str) -> str:
    """Where a service's consumer parks records it could not handle."""
    return f"aftercare.{service}.dlq"


def all_topics() -> tuple[str, ...]:
    return EVENT_TOPICS + tuple(dlq_topic(service) for service in SERVICES)


def topic_for_event_type(event_type: str) -> str:
    """``aftercare.ticket.created.v1`` → ``aftercare.tickets``."""
    parts = event_type.split(".")
    if len(parts) < 4 or parts[0] != "aftercare" or parts[1] not in _ENTITY_TOPICS:
        raise ValueError(f"no topic carries event type {event_type!r}")
    return _ENTITY_TOPICS[parts[1]]


async def ensure_topics(
    bootstrap_servers: str,
    *,
    partitions: int,
    replication_factor: int,
    topics: tuple[str, ...] | None = None,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names it created.

    ``min_insync_replicas`` (topic config ``min.insync.replicas``): how many replicas must
    hold a record before an ``acks=all`` write is acknowledged; the broker default when None.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    wanted = topics if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=name,
                        num_partitions=partitions,
                        replication_factor=replication_factor,
                        topic_configs=(
                            {"min.insync.replicas": str(min_insync_replicas)}
                            if min_insync_replicas is not None
                            else {}
                        ),
                    )
                    for name in missing
                ]
            )
        return missing
    finally:
        await admin.close()


def main() -> int:
    bootstrap = os.environ.get("AFTERCARE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    partitions = int(os.environ.get("AFTERCARE_TOPIC_PARTITIONS", "6"))
    replication = int(os.environ.get("AFTERCARE_TOPIC_REPLICATION_FACTOR", "1"))
    min_insync = os.environ.get("AFTERCARE_TOPIC_MIN_INSYNC_REPLICAS", "").strip()
    created = asyncio.run(
        ensure_topics(
            bootstrap,
            partitions=partitions,
            replication_factor=replication,
            min_insync_replicas=int(min_insync) if min_insync else None,
        )
    )
    print(f"topics: {len(created)} created, {len(all_topics()) - len(created)} already present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
