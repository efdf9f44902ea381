"""The support desk across real processes, HTTP and Kafka: a client contact opens a ticket,
staff write an internal note and ask a question, the client answers — and the internal
note reaches the agency's webhook only, never the endpoint the client owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from devkit.service_processes import UvicornProcess
from devkit.webhook_receiver import WebhookReceiver
from tests.e2e.test_skeleton_flow import SERVICES, STAFF, eventually, stack

pytestmark = pytest.mark.e2e

__all__ = ["stack"]  # the four services as processes (the skeleton flow's fixture)


@pytest.fixture
async def two_receivers() -> AsyncIterator[tuple[WebhookReceiver, WebhookReceiver]]:
    agency, client = (WebhookReceiver(verify_signatures=True) for _ in range(2))
    await agency.start()
    await client.start()
    yield agency, client
    await agency.stop()
    await client.stop()


async def _subscribe(
    http: httpx.AsyncClient, notify: str, receiver: WebhookReceiver, **routing: Any
) -> str:
    created = await http.post(
        f"{notify}/v1/endpoints",
        headers=STAFF,
        json={
            "url": receiver.url,
            "channel": "webhook",
            "event_types": ["ticket.commented"],
            **routing,
        },
    )
    assert created.status_code == 201, created.text
    receiver.secret = created.json()["secret"]
    endpoint_id: str = created.json()["id"]
    return endpoint_id


async def test_an_internal_note_never_reaches_the_clients_webhook(
    stack: dict[str, UvicornProcess],
    two_receivers: tuple[WebhookReceiver, WebhookReceiver],
) -> None:
    intake, _, _, notify = (stack[name].url for name in SERVICES)
    agency_hooks, client_hooks = two_receivers
    async with httpx.AsyncClient(timeout=10.0) as http:
        client_id = (
            await http.post(f"{intake}/v1/clients", headers=STAFF, json={"name": "Acme"})
        ).json()["id"]
        key = (await http.post(f"{intake}/v1/clients/{client_id}/api-keys", headers=STAFF)).json()
        client_auth = {"Authorization": f"Bearer {key['key']}"}
        await _subscribe(http, notify, agency_hooks)
        owned = await _subscribe(http, notify, client_hooks, client_id=client_id)

        opened = await http.post(
            f"{intake}/v1/tickets",
            headers=client_auth,
            json={"title": "Can we export orders?", "kind": "question"},
        )
        assert opened.status_code == 201, opened.text
        ticket_id = opened.json()["id"]

        async def comment(headers: dict[str, str], **body: Any) -> str:
            answer = await http.post(
                f"{intake}/v1/tickets/{ticket_id}/comments", headers=headers, json=body
            )
            assert answer.status_code == 201, answer.text
            comment_id: str = answer.json()["id"]
            return comment_id

        note = await comment(STAFF, body="Export exists behind a flag", visibility="internal")
        question = await comment(STAFF, body="Which format?", status="waiting_on_client")
        answer = await comment(client_auth, body="CSV")
        ticket = (await http.get(f"{intake}/v1/tickets/{ticket_id}", headers=client_auth)).json()
        assert ticket["status"] == "in_progress"

    def comment_ids(receiver: WebhookReceiver) -> list[str]:
        return [
            event["data"]["comment_id"]
            for event in receiver.of_type("aftercare.ticket.commented.v1")
            if event["subject"] == ticket_id
        ]

    async def delivered() -> bool:
        return len(comment_ids(agency_hooks)) == 3 and len(comment_ids(client_hooks)) == 2

    await eventually(delivered, "the comments' webhooks")
    assert sorted(comment_ids(agency_hooks)) == sorted([note, question, answer])
    assert sorted(comment_ids(client_hooks)) == sorted([question, answer])
    assert agency_hooks.rejected == client_hooks.rejected == []
    # notify never even scheduled the note for the client's endpoint.
    async with httpx.AsyncClient(timeout=10.0) as http:
        deliveries = (
            await http.get(f"{notify}/v1/endpoints/{owned}/deliveries", headers=client_auth)
        ).json()["items"]
    assert len(deliveries) == 2
