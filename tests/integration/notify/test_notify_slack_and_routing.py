"""Slack-format delivery to a Slack-compatible receiver, and routing filters at fan-out:
clients, minimum priority, environments."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from aftercare_notify.models import Delivery
from aftercare_shared.clock import utc_now
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    Priority,
    ReleasePublished,
    SlaBreached,
    TicketCreated,
)
from aftercare_shared.events.factory import new_event
from tests.integration.notify.notify_support import (
    STAFF,
    RunningNotify,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    ticket_created,
    unique_client_id,
)
from tests.integration.notify.slack_support import SlackReceiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def slack() -> AsyncIterator[SlackReceiver]:
    receiver = SlackReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


def _breach(client_id: str, priority: Priority = "P1") -> CloudEvent:
    now = utc_now()
    ticket_id = str(uuid.uuid4())
    payload = SlaBreached(
        ticket_id=ticket_id,
        client_id=client_id,
        metric="resolution",
        plan_id=None,
        priority=priority,
        started_at=now,
        due_at=now,
        occurred_at=now,
    )
    return new_event(payload, service="sla", subject=ticket_id, client_id=client_id)


def _ticket(client_id: str, *, priority: Priority, environment: str | None) -> CloudEvent:
    ticket_id = str(uuid.uuid4())
    payload = TicketCreated(
        ticket_id=ticket_id,
        client_id=client_id,
        title="Checkout fails",
        severity="high",
        priority=priority,
        status="new",
        fingerprint=uuid.uuid4().hex,
        environment=environment,
        created_at=utc_now(),
    )
    return new_event(payload, service="intake", subject=ticket_id, client_id=client_id)


async def test_slack_gets_text_and_blocks_with_the_facts(slack: SlackReceiver) -> None:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url, delivery_worker_enabled=True)) as notify,
    ):
        client_id = unique_client_id()
        endpoint = await notify.create_endpoint(
            channel="slack", url=slack.url, event_types=["sla.*", "ticket.created"]
        )
        assert endpoint["channel"] == "slack"
        await notify.fan_out(ticket_created(client_id, title="Pay <now> & later"))
        await notify.fan_out(_breach(client_id))
        received = await slack.wait_for(2)
        assert slack.refusals == 0
        messages = {orjson.loads(item.body)["text"]: orjson.loads(item.body) for item in received}
        ticket = messages["New P2 ticket: Pay &lt;now&gt; &amp; later"]
        assert ticket["blocks"][0]["text"]["text"] == "*New P2 ticket: Pay &lt;now&gt; &amp; later*"
        facts = [field["text"] for field in ticket["blocks"][1]["fields"]]
        assert f"*Client*\n{client_id}" in facts
        assert "*Priority*\nP2" in facts
        breach_text = next(text for text in messages if text.startswith("SLA breached"))
        breach_facts = [f["text"] for f in messages[breach_text]["blocks"][1]["fields"]]
        assert any(fact.startswith("*SLA due*") for fact in breach_facts)
        # Chat deliveries are not signed webhooks: no Standard Webhooks headers.
        assert "webhook-signature" not in received[0].headers


async def _deliveries_for(notify: RunningNotify, message_id: str) -> set[str]:
    async with notify.session_factory() as session:
        rows = await session.execute(
            sa.select(Delivery.endpoint_id).where(Delivery.message_id == message_id)
        )
        return set(rows.scalars())


async def test_filters_route_by_client_priority_and_environment() -> None:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url)) as notify,
    ):
        acme, globex, initech = unique_client_id(), unique_client_id(), unique_client_id()

        async def endpoint(**filters: Any) -> str:
            created = await notify.create_endpoint(
                url="http://127.0.0.1:9/hooks", event_types=["*"], **filters
            )
            return str(created["id"])

        everything = await endpoint()
        two_clients = await endpoint(client_ids=[acme, globex])
        p1_only = await endpoint(min_priority="P1")
        up_to_p2 = await endpoint(min_priority="P2")
        production = await endpoint(environments=["production"])

        cases: list[tuple[CloudEvent, set[str]]] = [
            (
                _ticket(acme, priority="P1", environment="production"),
                {everything, two_clients, p1_only, up_to_p2, production},
            ),
            (_ticket(globex, priority="P3", environment="staging"), {everything, two_clients}),
            (_ticket(initech, priority="P2", environment=None), {everything, up_to_p2, production}),
            (_breach(initech, priority="P1"), {everything, p1_only, up_to_p2, production}),
            (
                # No client, no priority, no environment: only the client list applies.
                new_event(
                    ReleasePublished(
                        release_id="r1",
                        product="shop",
                        version="1.0.1",
                        kind="bugfix",
                        ticket_ids=[],
                        published_at=utc_now(),
                    ),
                    service="releases",
                    subject="r1",
                ),
                {everything, p1_only, up_to_p2, production},
            ),
        ]
        for event, expected in cases:
            await notify.fan_out(event)
            assert await _deliveries_for(notify, event.id) == expected, event.type

        # Filters change with PATCH; null clears one.
        response = await notify.client.patch(
            f"/v1/endpoints/{p1_only}",
            json={"min_priority": None, "environments": ["staging"]},
            headers=STAFF,
        )
        assert response.status_code == 200, response.text
        assert response.json()["min_priority"] is None
        assert response.json()["environments"] == ["staging"]
        staging_p3 = _ticket(globex, priority="P3", environment="staging")
        await notify.fan_out(staging_p3)
        assert p1_only in await _deliveries_for(notify, staging_p3.id)
