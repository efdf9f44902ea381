"""Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat take the format).

The message is ``text`` (the headline, what notifications show) plus Block Kit blocks:
the headline, the facts as fields, links as buttons, and the event's type and time. A
digest is a header plus one section per event (its facts on a line, its first link).
"""

from __future__ import annotations

from typing import Any

import orjson

from aftercare_notify.channels.http_client import GuardedHttpClient
from aftercare_notify.channels.rendering import (
    DigestView,
    EventView,
    digest_view,
    event_view,
    is_digest,
)
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.repository import ClaimedDelivery

# Block Kit limits: at most 10 fields per section, 5 elements per actions block, 50
# blocks per message.
MAX_FIELDS = 10
MAX_BUTTONS = 5
MAX_DIGEST_LINES = 45


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


def slack_digest(digest: DigestView) -> dict[str, Any]:
    """One section per event (headline, facts on a line, first link), up to Slack's limit."""
    headline = slack_escape(digest.headline)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": digest.headline[:150]}}
    ]
    for view in digest.events[:MAX_DIGEST_LINES]:
        facts = " · ".join(slack_escape(value) for _, value in view.facts)
        line = f"*{slack_escape(view.headline)}*" + (f"\n{facts}" if facts else "")
        section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": line}}
        if view.links:
            label, url = view.links[0]
            section["accessory"] = {
                "type": "button",
                "text": {"type": "plain_text", "text": label},
                "url": url,
            }
        blocks.append(section)
    left_out = len(digest.events) - MAX_DIGEST_LINES
    context = f"digest · {digest.time.isoformat()} · {digest.digest_id}"
    if left_out > 0:
        context = f"and {left_out} more · " + context
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": headline, "blocks": blocks}


class SlackChannel:
    def __init__(self, client: GuardedHttpClient) -> None:
        self._client = client

    async def send(self, delivery: ClaimedDelivery) -> AttemptResult:
        assert delivery.url is not None, "a slack endpoint always has a URL"
        if is_digest(delivery.event_type):
            message = slack_digest(digest_view(delivery.body))
        else:
            message = slack_message(event_view(delivery.body))
        body = orjson.dumps(message)
        return await self._client.post(delivery.url, {"content-type": "application/json"}, body)
