"""The delivery worker: claims due deliveries, sends them concurrently, records results.

Each delivery goes through two short transactions with the call between them — claim
(reserve with a lease, commit), send through the endpoint's channel, record (new
transaction) — so no database transaction or row lock is held while a slow receiver
makes us wait. One endpoint never takes more than ``delivery_connections_per_host``
slots, and an endpoint that keeps timing out is left out of the claim by its circuit
breaker: a dead endpoint cannot slow the healthy ones down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import timedelta
from functools import partial
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_notify import use_cases
from aftercare_notify.channels import ChannelSenders
from aftercare_notify.channels.setup import build_channel_senders, new_http_client
from aftercare_notify.domain.circuit_breaker import CircuitBreakers
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.metrics import (
    DELIVERIES_FAILED,
    DELIVERIES_SUCCEEDED,
    DELIVERY_ATTEMPTS,
    DELIVERY_ATTEMPTS_FAILED,
    DELIVERY_LATENCY_SECONDS,
    ENDPOINTS_DISABLED,
)
from aftercare_notify.recorder import AttemptRecorder
from aftercare_notify.repository import ClaimedDelivery
from aftercare_notify.settings import NotifySettings
from aftercare_notify.use_cases import AttemptToRecord
from aftercare_shared.clock import utc_now
from aftercare_shared.url_guard import UrlGuard
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
        # Renewed every third of the lease: two renewals may fail before another worker
        # could take a delivery that is still being sent.
        self._renew_every = settings.delivery_lease_seconds / 3
        self._held: dict[str, str] = {}
        """delivery id → claim token of each attempt in flight (what the renewal extends)."""
        self._stop_requested = asyncio.Event()
        self._per_endpoint = settings.delivery_connections_per_host
        self._in_flight_by_endpoint: Counter[str] = Counter()
        self._slots_freed = asyncio.Event()
        self._recorder = AttemptRecorder(
            session_factory=session_factory,
            schedule=self._schedule,
            disable_after=self._disable_after,
        )
        self._breakers = CircuitBreakers(
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_seconds=settings.breaker_cooldown_seconds,
        )

    async def run(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        stop_waiter = asyncio.create_task(self._stop_requested.wait())
        listener = asyncio.create_task(self._wakeup.run()) if self._wakeup else None
        http = new_http_client(self._settings, self._guard)
        sender = build_channel_senders(self._settings, http)
        self._recorder.start()
        renewer = asyncio.create_task(self._renew_leases_while_running())
        try:
            while not self._stop_requested.is_set():
                if self._wakeup is not None:
                    # Cleared before claiming: a commit after this point wakes us again.
                    self._wakeup.event.clear()
                self._slots_freed.clear()
                free_slots = self._settings.delivery_concurrency - len(in_flight)
                wanted = min(self._settings.delivery_batch_size, free_slots)
                claimed = await self._claim(wanted) if wanted > 0 else []
                for delivery in claimed:
                    self._held[delivery.delivery_id] = delivery.claim_token
                    self._in_flight_by_endpoint[delivery.endpoint_id] += 1
                    task = asyncio.create_task(self._deliver(sender, delivery))
                    in_flight.add(task)
                    task.add_done_callback(partial(self._finished, in_flight))
                if claimed and len(claimed) == wanted:
                    await asyncio.sleep(0)  # a full batch: more may be due right now
                    continue
                # Wake on stop, on enough free slots for a batch worth claiming (not on
                # every completion), on newly committed deliveries, or at the next poll.
                waiters: set[asyncio.Task[Any]] = {
                    stop_waiter,
                    asyncio.create_task(self._slots_freed.wait()),
                }
                if self._wakeup is not None and free_slots > len(claimed):
                    waiters.add(asyncio.create_task(self._wakeup.event.wait()))
                await asyncio.wait(
                    waiters,
                    timeout=self._settings.delivery_poll_interval_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for waiter in waiters - {stop_waiter}:
                    waiter.cancel()
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
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await self._recorder.close()
            await http.aclose()

    def _finished(self, in_flight: set[asyncio.Task[None]], task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        free = self._settings.delivery_concurrency - len(in_flight)
        # Claiming costs a round trip: do it for a quarter batch, or when all is done.
        if not in_flight or free >= self._claim_threshold:
            self._slots_freed.set()

    async def stop(self) -> None:
        self._stop_requested.set()

    async def _renew_leases_while_running(self) -> None:
        """Short leases, renewed while attempts run: a crash delays a delivery by seconds.

        One UPDATE per round for every attempt in flight. A failed round is logged and
        the next one tries again; were the leases to run out meanwhile, another worker may
        send the delivery again, with the same ``webhook-id`` (receivers deduplicate).
        """
        while True:
            await asyncio.sleep(self._renew_every)
            claims = list(self._held.items())
            if not claims:
                continue
            try:
                async with self._session_factory() as session:
                    await use_cases.renew_leases(
                        session=session, claims=claims, now=utc_now(), lease=self._lease
                    )
            except Exception as error:  # the database may be restarting: try next round
                logger.warning(
                    "could not renew delivery leases",
                    deliveries=len(claims),
                    error=f"{type(error).__name__}: {error}",
                )

    @property
    def _claim_threshold(self) -> int:
        return max(
            1, min(self._settings.delivery_batch_size, self._settings.delivery_concurrency) // 4
        )

    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        now = time.monotonic()
        saturated = [
            endpoint_id
            for endpoint_id, count in self._in_flight_by_endpoint.items()
            if count >= self._per_endpoint
        ]
        blocked = self._breakers.blocked(now)
        probes = [
            endpoint_id
            for endpoint_id in self._breakers.probe_candidates(now)
            if endpoint_id not in saturated
        ]
        async with self._session_factory() as session:
            claimed = await use_cases.claim_due_deliveries(
                session=session,
                now=utc_now(),
                lease=self._lease,
                limit=limit,
                per_endpoint_limit=self._per_endpoint,
                excluded_endpoint_ids=sorted({*saturated, *blocked}),
                single_slot_endpoint_ids=probes,
            )
        for delivery in claimed:
            if delivery.endpoint_id in probes:
                self._breakers.start_probe(delivery.endpoint_id)
        return claimed

    async def _deliver(self, sender: ChannelSenders, claimed: ClaimedDelivery) -> None:
        try:
            await self._attempt(sender, claimed)
        finally:
            self._held.pop(claimed.delivery_id, None)
            remaining = self._in_flight_by_endpoint[claimed.endpoint_id] - 1
            if remaining > 0:
                self._in_flight_by_endpoint[claimed.endpoint_id] = remaining
            else:
                del self._in_flight_by_endpoint[claimed.endpoint_id]

    async def _attempt(self, sender: ChannelSenders, claimed: ClaimedDelivery) -> None:
        # No bound logger per delivery: binding was 5 % of notify's CPU under a fan-out
        # burst (py-spy), for log lines a successful delivery never writes.
        about = _log_fields(claimed)
        attempted_at = utc_now()
        try:
            result = await sender.send(claimed)
        except Exception as error:
            # A bug of ours, not the receiver's doing: still an attempt, logged and retried.
            logger.exception("delivery attempt raised", **about)
            result = AttemptResult(None, None, None, f"internal: {type(error).__name__}")
        if self._breakers.record(
            claimed.endpoint_id, unreachable=result.unreachable, now=time.monotonic()
        ):
            logger.warning("endpoint unreachable; circuit breaker open", **about)
        DELIVERY_ATTEMPTS.inc()
        if result.latency_ms is not None:
            DELIVERY_LATENCY_SECONDS.observe(result.latency_ms / 1000)
        if not result.succeeded:
            DELIVERY_ATTEMPTS_FAILED.inc()
        try:
            outcome = await self._recorder.record(
                AttemptToRecord(claimed=claimed, result=result, attempted_at=attempted_at)
            )
        except Exception:
            # The lease runs out and the delivery is attempted again: late, never lost.
            logger.exception("could not record a delivery attempt", **about)
            return
        if outcome is None:
            logger.info("delivery attempt outdated by a newer claim or a deletion", **about)
            return
        if outcome.delivery_status == "succeeded":
            DELIVERIES_SUCCEEDED.inc()
        elif outcome.delivery_status in ("failed", "cancelled"):
            DELIVERIES_FAILED.inc()
        if outcome.endpoint_disabled:
            ENDPOINTS_DISABLED.inc()
        # A success is the common case and not worth a log line at thousands a second.
        (logger.debug if result.succeeded else logger.info)(
            "delivery attempted",
            **about,
            status_code=result.status_code,
            error=result.error,
            latency_ms=result.latency_ms,
            outcome=outcome.delivery_status,
            endpoint_disabled=outcome.endpoint_disabled,
        )


def _log_fields(claimed: ClaimedDelivery) -> dict[str, object]:
    return {
        "delivery_id": claimed.delivery_id,
        "endpoint_id": claimed.endpoint_id,
        "message_id": claimed.message_id,
        "attempt": claimed.attempt_number,
    }
