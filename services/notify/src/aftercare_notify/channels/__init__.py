"""Delivery channels behind one interface (``base.ChannelSender``): webhook, slack, email."""

from __future__ import annotations

from collections.abc import Mapping

from aftercare_notify.channels.base import ChannelSender
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.repository import ClaimedDelivery


class ChannelSenders:
    """Sends each claimed delivery through its endpoint's channel."""

    def __init__(self, senders: Mapping[str, ChannelSender]) -> None:
        self._senders = dict(senders)

    async def send(self, delivery: ClaimedDelivery) -> AttemptResult:
        sender = self._senders.get(delivery.channel)
        if sender is None:
            # E-mail without NOTIFY_SMTP_URL: waiting on the schedule lets an operator
            # configure it before the delivery runs out of attempts.
            return AttemptResult(
                None, None, None, f"channel {delivery.channel!r} is not configured"
            )
        return await sender.send(delivery)


__all__ = ["ChannelSender", "ChannelSenders"]
