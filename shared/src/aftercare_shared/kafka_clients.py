"""Stopping a Kafka client without waiting on a Kafka that is gone.

``stop()`` on an aiokafka producer flushes what it holds, and an idempotent producer
retries until Kafka answers; a consumer leaves its group. With the broker unreachable
neither ever returns, so a service told to stop (SIGTERM in a Kafka outage) would never
exit. Whoever stops a client does it through :func:`stop_kafka_client`: what the client
still held is unsent or uncommitted, which the outbox and the consumer's offsets already
treat as not done.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

KAFKA_CLIENT_STOP_TIMEOUT_SECONDS = 5.0


class StoppableKafkaClient(Protocol):
    async def stop(self) -> Any: ...


class WarningLog(Protocol):
    def warning(self, event: str, **fields: Any) -> Any: ...


async def stop_kafka_client(
    client: StoppableKafkaClient,
    *,
    log: WarningLog,
    timeout_seconds: float = KAFKA_CLIENT_STOP_TIMEOUT_SECONDS,
) -> None:
    """Stop ``client``, giving up after ``timeout_seconds``; errors are logged, not raised
    (the caller is shutting down or replacing the client)."""
    try:
        await asyncio.wait_for(client.stop(), timeout_seconds)
    except TimeoutError:
        log.warning("kafka client did not stop in time; abandoned", seconds=timeout_seconds)
    except Exception:  # what the error says changes nothing we could still do
        log.warning("error while stopping a kafka client", exc_info=True)
