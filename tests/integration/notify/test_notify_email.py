"""The e-mail channel against a real SMTP server (aiosmtpd): plain, STARTTLS, a 4xx then
success through the worker's retries, and a 5xx that fails the delivery at once."""

from __future__ import annotations

import ssl
import uuid
from pathlib import Path

import pytest

from aftercare_notify.channels.email import EmailChannel
from aftercare_notify.channels.smtp_url import parse_smtp_url
from aftercare_notify.repository import ClaimedDelivery
from aftercare_shared.events import CloudEvent
from tests.integration.notify.notify_support import (
    STAFF,
    eventually,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    ticket_created,
    unique_client_id,
)
from tests.integration.notify.smtp_support import (
    RecordingHandler,
    self_signed_certificate,
    smtp_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MAIL_FROM = "alerts@agency.example"


def _claimed(event: CloudEvent, address: str = "ops@client.example") -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id=str(uuid.uuid4()),
        claim_token="claim",
        attempt_number=1,
        endpoint_id="endpoint-1",
        channel="email",
        url=None,
        address=address,
        secrets_in_use=(),
        message_id=event.id,
        event_type=event.type,
        body=event.to_json_bytes(),
    )


def _channel(port: int, *, starttls: bool, ca_file: Path | None = None) -> EmailChannel:
    return EmailChannel(
        server=parse_smtp_url(f"smtp://127.0.0.1:{port}"),
        starttls=starttls,
        mail_from=MAIL_FROM,
        timeout_seconds=10,
        tls_context=ssl.create_default_context(cafile=str(ca_file) if ca_file else None),
    )


async def test_plain_smtp_sends_multipart_mail_with_an_event_derived_message_id() -> None:
    handler = RecordingHandler()
    event = ticket_created(unique_client_id(), title="<script>alert(1)</script> & checkout")
    with smtp_server(handler) as port:
        result = await _channel(port, starttls=False).send(_claimed(event))
    assert result.succeeded
    assert result.status_code == 250
    (message,) = handler.messages
    assert handler.envelopes == [(MAIL_FROM, ["ops@client.example"])]
    assert message["Message-ID"] == f"<{event.id}.endpoint-1@agency.example>"
    assert message["Subject"] == "[Aftercare] New P2 ticket: <script>alert(1)</script> & checkout"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "<script>alert(1)</script> & checkout" in plain.get_content()
    # Autoescaped: what a client typed never becomes markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; checkout" in html.get_content()
    assert "<script>" not in html.get_content()
    assert handler.tls_used == [False]


async def test_starttls_is_used_and_the_certificate_verified(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    handler = RecordingHandler()
    event = ticket_created(unique_client_id())
    with smtp_server(handler, starttls_cert=(cert, key)) as port:
        trusted = await _channel(port, starttls=True, ca_file=cert).send(_claimed(event))
        untrusted = await _channel(port, starttls=True).send(_claimed(event))
    assert trusted.succeeded
    assert handler.tls_used == [True]
    assert not untrusted.succeeded  # a certificate nobody vouches for is refused
    assert untrusted.error is not None
    assert not untrusted.permanent  # retried: the operator may fix the trust store


async def test_a_5xx_answer_is_permanent_and_a_4xx_is_not() -> None:
    handler = RecordingHandler()
    handler.scripted_replies.extend(["550 5.1.1 mailbox unavailable", "451 4.3.0 try later"])
    event = ticket_created(unique_client_id())
    with smtp_server(handler) as port:
        channel = _channel(port, starttls=False)
        refused = await channel.send(_claimed(event))
        deferred = await channel.send(_claimed(event))
    assert not refused.succeeded
    assert refused.permanent
    assert refused.status_code == 550
    assert not deferred.succeeded
    assert not deferred.permanent
    assert deferred.status_code == 451


async def test_the_worker_retries_a_4xx_then_delivers_and_fails_a_5xx_at_once() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        async with (
            migrated_notify_database() as url,
            running_notify(
                notify_settings_for(
                    url,
                    delivery_worker_enabled=True,
                    smtp_url=f"smtp://127.0.0.1:{port}",
                    smtp_starttls=False,
                    mail_from=MAIL_FROM,
                )
            ) as notify,
        ):
            client_id = unique_client_id()
            endpoint = await notify.create_endpoint(
                channel="email",
                address="ops@client.example",
                event_types=["ticket.*"],
                client_id=client_id,
            )
            assert endpoint["url"] is None
            assert endpoint["address"] == "ops@client.example"

            handler.scripted_replies.append("451 4.3.0 try later")
            first = ticket_created(client_id)
            await notify.fan_out(first)
            (delivered,) = await eventually(
                lambda: notify.deliveries(endpoint["id"]),
                lambda items: len(items) == 1 and items[0]["status"] == "succeeded",
            )
            assert [a["status_code"] for a in delivered["attempts"]] == [451, 250]
            assert handler.messages[0]["Message-ID"].startswith(f"<{first.id}.")

            handler.scripted_replies.append("554 5.7.1 rejected")
            second = ticket_created(client_id)
            await notify.fan_out(second)
            items = await eventually(
                lambda: notify.deliveries(endpoint["id"]),
                lambda items: len(items) == 2 and items[0]["status"] == "failed",
            )
            assert len(items[0]["attempts"]) == 1  # no retries after a 5xx
            assert items[0]["last_error"].startswith("smtp: 554")
            after = await notify.client.get(f"/v1/endpoints/{endpoint['id']}", headers=STAFF)
            assert after.json()["status"] == "enabled"  # a refused message, not a dead endpoint
