"""A Slack-compatible incoming-webhook receiver: answers ``ok`` like Slack, or ``400
invalid_payload`` / ``invalid_blocks`` for a message Slack would refuse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from devkit.webhook_receiver import WebhookReceiver

BLOCK_TYPES = {"section", "actions", "context", "header", "divider"}
MAX_TEXT = 3000


def slack_refusal(message: Any) -> str | None:
    """Why Slack would refuse ``message``; None when it is acceptable."""
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return "invalid_payload"
    blocks = message.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            return "invalid_blocks"
        text = block.get("text", {})
        if text and (
            text.get("type") not in {"mrkdwn", "plain_text"} or len(text["text"]) > MAX_TEXT
        ):
            return "invalid_blocks"
        if len(block.get("fields", [])) > 10 or len(block.get("elements", [])) > 25:
            return "invalid_blocks"
        for element in block.get("elements", []):
            if element.get("type") == "button" and not str(element.get("url", "")).startswith(
                ("http://", "https://")
            ):
                return "invalid_blocks"
    return None


@dataclass
class SlackReceiver(WebhookReceiver):
    path: str = "/services/T00000000/B00000000/abcdefghijklmnopqrstuvwx"
    refusals: int = 0

    def _answer_for(self, headers: dict[str, str], body: bytes) -> int | None:
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            message = None
        if headers.get("content-type") != "application/json" or slack_refusal(message):
            self.refusals += 1
            return 400
        return None
