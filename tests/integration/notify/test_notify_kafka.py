"""Through the real broker: an event produced to its topic reaches the subscriber."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from standardwebhooks.webhooks import Webhook

from aftercare_shared.auth import generate_api_key
from aftercare_shared.clock import utc_now
from aftercare_shared.events import STRUCTURED_CONTENT_TYPE, CloudEvent
from aftercare_shared.events.catalog import ClientApiKeyIssued
from aftercare_shared.events.factory import new_event
from aftercare_shared.topics import CLIENTS, EVENT_TOPICS, TICKETS, ensure_topics
from devkit.databases import kafka_bootstrap_servers
from devkit.kafka_groups import start_groups_at_the_end
from tests.integration.notify.notify_support import (
    eventually,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    started_receiver,
    ticket_created,
    unique_client_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def _produce(topic: str, event: CloudEvent) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers(), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            value=event.to_json_bytes(),
            key=event.subject.encode(),
            headers=[("content-type", STRUCTURED_CONTENT_TYPE.encode())],
        )
    finally:
        await producer.stop()


async def test_event_from_kafka_is_fanned_out_and_delivered() -> None:
    await ensure_topics(
        kafka_bootstrap_servers(), partitions=6, replication_factor=1, topics=EVENT_TOPICS
    )
    group_id = f"aftercare-notify-test-{uuid.uuid4().hex[:12]}"
    await start_groups_at_the_end(group_id)
    async with migrated_notify_database() as url, started_receiver() as receiver:
        settings = notify_settings_for(
            url, consumer_enabled=True, delivery_worker_enabled=True, consumer_group=group_id
        )
        async with running_notify(settings) as notify:
            client_id = unique_client_id()
            endpoint = await notify.create_endpoint(
                url=receiver.url, event_types=["ticket.created"], client_id=client_id
            )
            new_key = generate_api_key()
            issued = ClientApiKeyIssued(
                api_key_id=str(uuid.uuid4()),
                client_id=client_id,
                key_hash=new_key.key_hash,
                prefix=new_key.prefix,
                created_at=utc_now(),
            )
            await _produce(
                CLIENTS, new_event(issued, service="intake", subject=client_id, client_id=client_id)
            )
            event = ticket_created(client_id)
            await _produce(TICKETS, event)

            (request,) = await receiver.wait_for(1, within_seconds=60)
            assert request.body == event.to_json_bytes()
            assert request.headers["webhook-id"] == event.id
            Webhook(endpoint["secret"]).verify(request.body, request.headers)

            # The key event reached the read model: the client can now read its endpoint.
            as_client = {"Authorization": f"Bearer {new_key.key}"}
            response = await eventually(
                lambda: notify.client.get(f"/v1/endpoints/{endpoint['id']}", headers=as_client),
                lambda response: response.status_code == 200,
            )
            assert response.json()["id"] == endpoint["id"]
            deliveries = await eventually(
                lambda: notify.client.get(
                    f"/v1/endpoints/{endpoint['id']}/deliveries", headers=as_client
                ),
                lambda response: response.json()["items"][0]["status"] == "succeeded",
            )
            assert deliveries.json()["items"][0]["message_id"] == event.id
