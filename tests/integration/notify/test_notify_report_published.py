"""report.published reaches the subscribed endpoints of its client only, with the link:
Slack (a button) and e-mail (in the text), from a headline template alone."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest

from aftercare_notify.channels.email import EmailChannel
from aftercare_notify.channels.smtp_url import parse_smtp_url
from aftercare_notify.repository import ClaimedDelivery
from aftercare_shared.clock import utc_now
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ReportPublished
from aftercare_shared.events.factory import new_event
from tests.integration.notify.notify_support import (
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    unique_client_id,
)
from tests.integration.notify.slack_support import SlackReceiver
from tests.integration.notify.smtp_support import RecordingHandler, smtp_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def slack() -> AsyncIterator[SlackReceiver]:
    receiver = SlackReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


def report_published(client_id: str) -> CloudEvent:
    payload = ReportPublished(
        client_id=client_id,
        period="2026-09",
        headlines={"tickets_opened": 6, "sla_met_percent": 80.0, "uptime_percent": None},
        report_url=f"https://sla.agency.example/v1/clients/{client_id}/reports/2026-09",
        published_at=utc_now(),
    )
    return new_event(payload, service="sla", subject=client_id, client_id=client_id)


async def test_slack_endpoints_of_the_client_get_the_report_link(slack: SlackReceiver) -> None:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url, delivery_worker_enabled=True)) as notify,
    ):
        acme, globex = unique_client_id(), unique_client_id()
        await notify.create_endpoint(
            channel="slack", url=slack.url, event_types=["report.published"], client_ids=[acme]
        )
        await notify.fan_out(report_published(globex))  # another client's: not delivered
        await notify.fan_out(report_published(acme))
        (received,) = await slack.wait_for(1)
        message = orjson.loads(received.body)
        link = f"https://sla.agency.example/v1/clients/{acme}/reports/2026-09"
        assert message["text"] == f"Monthly report 2026-09 is ready: {link}"
        buttons = [block for block in message["blocks"] if block["type"] == "actions"]
        assert [element["url"] for element in buttons[0]["elements"]] == [link]
        assert len(slack.received) == 1


async def test_an_email_shows_the_report_link() -> None:
    handler = RecordingHandler()
    event = report_published(unique_client_id())
    delivery = ClaimedDelivery(
        delivery_id=str(uuid.uuid4()),
        claim_token="claim",
        attempt_number=1,
        endpoint_id="endpoint-1",
        channel="email",
        url=None,
        address="ops@client.example",
        secrets_in_use=(),
        message_id=event.id,
        event_type=event.type,
        body=event.to_json_bytes(),
    )
    with smtp_server(handler) as port:
        channel = EmailChannel(
            server=parse_smtp_url(f"smtp://127.0.0.1:{port}"),
            starttls=False,
            mail_from="alerts@agency.example",
            timeout_seconds=10,
            tls_context=ssl.create_default_context(),
        )
        result = await channel.send(delivery)
    assert result.succeeded
    (message,) = handler.messages
    assert message["Subject"].startswith("[Aftercare] Monthly report 2026-09 is ready: https://")
    html = message.get_body(("html",))
    assert html is not None
    assert f'href="{event.data["report_url"]}"' in html.get_content()
