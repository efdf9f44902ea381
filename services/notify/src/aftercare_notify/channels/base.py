"""The one interface every channel implements.

Claims, retries, attempts, disabling and replay are channel-neutral: the delivery worker
hands a claimed delivery to its channel's sender and records the :class:`AttemptResult`
it gets back. A new channel is one module with a sender, its settings, and its name in
``domain.channels``.
"""

from __future__ import annotations

from typing import Protocol

from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.repository import ClaimedDelivery


class ChannelSender(Protocol):
    async def send(self, delivery: ClaimedDelivery) -> AttemptResult:
        """Make one attempt; report what happened rather than raise."""
        ...
