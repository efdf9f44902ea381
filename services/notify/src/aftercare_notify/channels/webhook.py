"""Webhooks: the CloudEvent's exact bytes, signed per Standard Webhooks.

A digest (``digests.py``) is sent the same way: its JSON document, signed, with the
digest id as ``webhook-id``, as ``application/json``.
"""

from __future__ import annotations

from aftercare_notify.channels.http_client import GuardedHttpClient
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.domain.grouping import DIGEST_CONTENT_TYPE, DIGEST_EVENT_TYPE
from aftercare_notify.domain.signing import webhook_headers
from aftercare_notify.repository import ClaimedDelivery
from aftercare_shared.clock import utc_now
from aftercare_shared.events import STRUCTURED_CONTENT_TYPE


class WebhookChannel:
    def __init__(self, client: GuardedHttpClient) -> None:
        self._client = client

    async def send(self, delivery: ClaimedDelivery) -> AttemptResult:
        assert delivery.url is not None, "a webhook endpoint always has a URL"
        headers = {
            "content-type": DIGEST_CONTENT_TYPE
            if delivery.event_type == DIGEST_EVENT_TYPE
            else STRUCTURED_CONTENT_TYPE,
            **webhook_headers(
                secrets_in_use=delivery.secrets_in_use,
                message_id=delivery.message_id,
                timestamp=int(utc_now().timestamp()),
                body=delivery.body,
            ),
        }
        return await self._client.post(delivery.url, headers, delivery.body)
