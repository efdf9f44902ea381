"""The delivery worker: claims due deliveries, sends them concurrently, records results.

Each delivery goes through two short transactions with the HTTP call between them —
claim (reserve with a lease, commit), send, record (new transaction) — so no database
transaction or row lock is held while a slow receiver makes us wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_notify import use_cases
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.metrics import (
    DELIVERIES_FAILED,
    DELIVERIES_SUCCEEDED,
    DELIVERY_ATTEMPTS,
    DELIVERY_ATTEMPTS_FAILED,
    DELIVERY_LATENCY_SECONDS,
    ENDPOINTS_DISABLED,
)
from aftercare_notify.repository import ClaimedDelivery
from aftercare_notify.settings import NotifySettings
from aftercare_notify.url_guard import UrlGuard
from aftercare_notify.webhook_sender import OutgoingWebhook, WebhookSender, new_webhook_client
from aftercare_shared.clock import utc_now
from aftercare_shared.wakeup import CommitWakeup

logger = structlog.get_logger(__name__)


class DeliveryWorker:
    """Keeps up to ``delivery_concurrency`` webhook requests in flight until stopped.

    ``stop()`` stops claiming and lets the requests in flight finish and be recorded.
    """

    name = "notify-delivery"

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        settings: NotifySettings,
        guard: UrlGuard,
        wakeup: CommitWakeup | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._wakeup = wakeup
        self._settings = settings
        self._guard = guard
        self._schedule = settings.parsed_retry_schedule
        self._disable_after = timedelta(seconds=settings.disable_after_seconds)
        self._lease = timedelta(seconds=settings.delivery_lease_seconds)
        self._stop_requested = asyncio.Event()

    async def run(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        stop_waiter = asyncio.create_task(self._stop_requested.wait())
        listener = asyncio.create_task(self._wakeup.run()) if self._wakeup else None
        async with new_webhook_client(
            timeout_seconds=self._settings.delivery_timeout_seconds
        ) as client:
            sender = WebhookSender(
                client=client,
                guard=self._guard,
                timeout_seconds=self._settings.delivery_timeout_seconds,
                response_body_max_bytes=self._settings.response_body_max_bytes,
            )
            try:
                while not self._stop_requested.is_set():
                    if self._wakeup is not None:
                        # Cleared before claiming: a commit after this point wakes us again.
                        self._wakeup.event.clear()
                    free_slots = self._settings.delivery_concurrency - len(in_flight)
                    wanted = min(self._settings.delivery_batch_size, free_slots)
                    claimed = await self._claim(wanted) if wanted > 0 else []
                    for delivery in claimed:
                        task = asyncio.create_task(self._deliver(sender, delivery))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    if claimed and len(claimed) == wanted:
                        await asyncio.sleep(0)  # a full batch: more may be due right now
                        continue
                    # Idle or saturated: wake on stop, on a free slot, on newly committed
                    # deliveries, or at the next poll.
                    waiters: set[asyncio.Task[Any]] = {stop_waiter, *in_flight}
                    woken = None
                    if self._wakeup is not None and free_slots > len(claimed):
                        woken = asyncio.create_task(self._wakeup.event.wait())
                        waiters.add(woken)
                    await asyncio.wait(
                        waiters,
                        timeout=self._settings.delivery_poll_interval_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if woken is not None:
                        woken.cancel()
            finally:
                if self._wakeup is not None and listener is not None:
                    self._wakeup.stop()
                    await asyncio.gather(listener, return_exceptions=True)
                stop_waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stop_waiter
                # Graceful: what was sent gets recorded; nothing new is claimed.
                if in_flight:
                    await asyncio.gather(*in_flight, return_exceptions=True)

    async def stop(self) -> None:
        self._stop_requested.set()

    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        async with self._session_factory() as session:
            return await use_cases.claim_due_deliveries(
                session=session, now=utc_now(), lease=self._lease, limit=limit
            )

    async def _deliver(self, sender: WebhookSender, claimed: ClaimedDelivery) -> None:
        log = logger.bind(
            delivery_id=claimed.delivery_id,
            endpoint_id=claimed.endpoint_id,
            message_id=claimed.message_id,
            attempt=claimed.attempt_number,
        )
        attempted_at = utc_now()
        outgoing = OutgoingWebhook(
            url=claimed.url,
            message_id=claimed.message_id,
            body=claimed.body,
            secrets_in_use=claimed.secrets_in_use,
        )
        try:
            result = await sender.send(outgoing)
        except Exception as error:
            # A bug of ours, not the receiver's doing: still an attempt, logged and retried.
            log.exception("webhook attempt raised")
            result = AttemptResult(None, None, None, f"internal: {type(error).__name__}")
        DELIVERY_ATTEMPTS.inc()
        if result.latency_ms is not None:
            DELIVERY_LATENCY_SECONDS.observe(result.latency_ms / 1000)
        if not result.succeeded:
            DELIVERY_ATTEMPTS_FAILED.inc()
        try:
            async with self._session_factory() as session:
                outcome = await use_cases.record_attempt(
                    session=session,
                    claimed=claimed,
                    result=result,
                    attempted_at=attempted_at,
                    schedule=self._schedule,
                    disable_after=self._disable_after,
                )
        except Exception:
            # The lease runs out and the delivery is attempted again: late, never lost.
            log.exception("could not record a delivery attempt")
            return
        if outcome is None:
            log.info("delivery attempt outdated by a newer claim or a deletion")
            return
        if outcome.delivery_status == "succeeded":
            DELIVERIES_SUCCEEDED.inc()
        elif outcome.delivery_status in ("failed", "cancelled"):
            DELIVERIES_FAILED.inc()
        if outcome.endpoint_disabled:
            ENDPOINTS_DISABLED.inc()
        log.info(
            "delivery attempted",
            status_code=result.status_code,
            error=result.error,
            latency_ms=result.latency_ms,
            outcome=outcome.delivery_status,
            endpoint_disabled=outcome.endpoint_disabled,
        )
