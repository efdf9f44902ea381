"""Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat take the format).

The message is ``text`` (the headline, what notifications show) plus Block Kit blocks:
the headline, the facts as fields, links as buttons, and the event's type and time.
"""

from __future__ import annotations

from typing import Any

import orjson

from aftercare_notify.channels.http_client import GuardedHttpClient
from aftercare_notify.channels.rendering import EventView, event_view
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.repository import ClaimedDelivery

# Block Kit limits: at most 10 fields per section, 5 elements per actions block.
MAX_FIELDS = 10
MAX_BUTTONS = 5


def slack_escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(view: EventView) -> dict[str, Any]:
    headline = slack_escape(view.headline)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}}
    ]
    if view.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{slack_escape(label)}*\n{slack_escape(value)}"}
                    for label, value in view.facts[:MAX_FIELDS]
                ],
            }
        )
    if view.links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
                    for label, url in view.links[:MAX_BUTTONS]
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{view.event_type} · {view.time.isoformat()} · {view.event_id}",
                }
            ],
        }
    )
    return {"text": headline, "blocks": blocks}


class SlackChannel:
    def __init__(self, client: GuardedHttpClient) -> None:
        self._client = client

    async def send(self, delivery: ClaimedDelivery) -> AttemptResult:
        assert delivery.url is not None, "a slack endpoint always has a URL"
        body = orjson.dumps(slack_message(event_view(delivery.body)))
        return await self._client.post(delivery.url, {"content-type": "application/json"}, body)
