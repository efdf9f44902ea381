"""Notify's write paths: each is one transaction (state + outbox events) and one commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_notify import repository
from aftercare_notify.domain.channels import (
    ADDRESS_CHANNELS,
    SUPPORTED_CHANNELS,
    unsupported_channel_reason,
)
from aftercare_notify.domain.delivery_policy import AttemptResult, Decision, decide
from aftercare_notify.domain.event_patterns import (
    InvalidEventPattern,
    normalize_patterns,
    subscription_matches,
)
from aftercare_notify.domain.grouping import NO_GROUPING, Grouping, grouping_problem
from aftercare_notify.domain.mail_address import mail_address_problem
from aftercare_notify.domain.quiet_hours import DeliveryMode
from aftercare_notify.domain.retry_schedule import RetrySchedule
from aftercare_notify.domain.routing import NO_FILTERS, RouteFilters
from aftercare_notify.domain.signing import generate_secret
from aftercare_notify.domain.statuses import DeliveryStatus, EndpointStatus
from aftercare_notify.errors import (
    ChannelNotSupportedError,
    DeliveryInFlightError,
    DeliveryNotFoundError,
    EndpointDisabledError,
    EndpointNotFoundError,
    EndpointTargetError,
    InvalidEventTypesError,
    InvalidGroupingError,
    UrlNotAllowedError,
    UrlUnresolvableError,
)
from aftercare_notify.models import SCHEMA, Delivery, DeliveryAttempt, Endpoint
from aftercare_notify.repository import ClaimedDelivery
from aftercare_shared.auth import Principal
from aftercare_shared.events.catalog import (
    EventPayload,
    NotificationEndpointDisabled,
    NotificationEndpointFailing,
    NotificationEndpointRecovered,
    NotificationFailed,
    Priority,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.pagination import decode_cursor
from aftercare_shared.patch import UNSET, Unset
from aftercare_shared.ssrf import SsrfRefused
from aftercare_shared.url_guard import HostUnresolvable, UrlGuard

SERVICE = ServiceName.NOTIFY
T = TypeVar("T")


# --- validation shared by create and update --------------------------------------------


def _checked_patterns(event_types: Sequence[str]) -> list[str]:
    try:
        return normalize_patterns(event_types)
    except InvalidEventPattern as error:
        raise InvalidEventTypesError(str(error), known_event_types=error.known) from None


async def _checked_url(guard: UrlGuard, url: str) -> str:
    try:
        await guard.vet(url)
    except SsrfRefused as refusal:
        raise UrlNotAllowedError(f"The endpoint URL is not allowed: {refusal}.") from None
    except HostUnresolvable as error:
        raise UrlUnresolvableError(
            f"The endpoint URL's host cannot be resolved: {error}."
        ) from None
    return url


def _checked_channel(channel: str) -> str:
    reason = unsupported_channel_reason(channel)
    if reason is not None:
        raise ChannelNotSupportedError(reason, supported_channels=SUPPORTED_CHANNELS)
    return channel


async def _checked_target(
    guard: UrlGuard, channel: str, url: str | None, address: str | None
) -> tuple[str | None, str | None]:
    """The (url, address) pair the channel needs, each validated; refuses any other."""
    if channel in ADDRESS_CHANNELS:
        if url is not None or address is None:
            raise EndpointTargetError(f"Channel {channel!r} needs an `address` and no `url`.")
        reason = mail_address_problem(address)
        if reason is not None:
            raise EndpointTargetError(f"The address is not usable: {reason}.")
        return None, address
    if address is not None or url is None:
        raise EndpointTargetError(f"Channel {channel!r} needs a `url` and no `address`.")
    return await _checked_url(guard, url), None


def _checked_grouping(grouping: Grouping) -> Grouping:
    problem = grouping_problem(grouping)
    if problem is not None:
        field, detail = problem
        raise InvalidGroupingError(detail, field=field)
    return grouping


def _endpoint_not_found(endpoint_id: str) -> EndpointNotFoundError:
    return EndpointNotFoundError(f"No endpoint {endpoint_id!r}.")


def _delivery_not_found(delivery_id: str) -> DeliveryNotFoundError:
    return DeliveryNotFoundError(f"No delivery {delivery_id!r}.")


# --- endpoints -------------------------------------------------------------------------


async def create_endpoint(
    *,
    session: AsyncSession,
    guard: UrlGuard,
    url: str | None,
    address: str | None = None,
    event_types: Sequence[str],
    channel: str,
    client_id: str | None,
    filters: RouteFilters = NO_FILTERS,
    deliver: DeliveryMode = "always",
    except_priorities: Sequence[Priority] | None = None,
    grouping: Grouping = NO_GROUPING,
    description: str | None,
    now: datetime,
) -> Endpoint:
    """Subscribe a target to ``event_types``; the answer carries the signing secret."""
    _checked_channel(channel)
    _checked_grouping(grouping)
    patterns = _checked_patterns(event_types)
    url, address = await _checked_target(guard, channel, url, address)
    endpoint = Endpoint(
        id=repository.new_id(),
        url=url,
        address=address,
        channel=channel,
        event_types=patterns,
        client_id=client_id,
        client_ids=_list_or_none(filters.client_ids),
        min_priority=filters.min_priority,
        environments=_list_or_none(filters.environments),
        deliver=deliver,
        except_priorities=_list_or_none(except_priorities),
        group_by=_list_or_none(grouping.group_by),
        group_wait_seconds=grouping.wait_seconds,
        group_interval_seconds=grouping.interval_seconds,
        group_max_events=grouping.max_events,
        description=description,
        status="enabled",
        secret=generate_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.commit()
    return endpoint


async def visible_endpoint(
    *, session: AsyncSession, endpoint_id: str, principal: Principal
) -> Endpoint:
    """The endpoint if the caller may see it: staff all, a client key its client's only."""
    endpoint = await repository.get_endpoint(session, endpoint_id)
    if endpoint is None or not _may_see(principal, endpoint):
        raise _endpoint_not_found(endpoint_id)
    return endpoint


def _may_see(principal: Principal, endpoint: Endpoint) -> bool:
    if principal.is_staff:
        return True
    return endpoint.client_id is not None and principal.may_see_client(endpoint.client_id)


async def list_visible_endpoints(
    *,
    session: AsyncSession,
    principal: Principal,
    client_id: str | None,
    cursor: str | None,
    limit: int,
) -> list[Endpoint]:
    """Staff see every endpoint (optionally one client's); a client key only its own.

    Oldest first; up to ``limit + 1`` rows, the extra one only saying there is more.
    """
    after = decode_cursor(cursor, datetime, str)
    if not principal.is_staff:
        client_id = principal.client_id
    return await repository.list_endpoints(
        session, client_id=client_id, after=after, limit=limit + 1
    )


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """A partial update: a field left UNSET keeps its value; only description clears."""

    url: str | Unset = UNSET
    address: str | Unset = UNSET
    event_types: Sequence[str] | Unset = UNSET
    client_ids: Sequence[str] | Unset | None = UNSET
    min_priority: Priority | Unset | None = UNSET
    environments: Sequence[str] | Unset | None = UNSET
    deliver: DeliveryMode | Unset = UNSET
    except_priorities: Sequence[Priority] | Unset | None = UNSET
    group_by: Sequence[str] | Unset | None = UNSET
    group_wait_seconds: int | Unset | None = UNSET
    group_interval_seconds: int | Unset | None = UNSET
    group_max_events: int | Unset | None = UNSET
    description: str | Unset | None = UNSET
    status: EndpointStatus | Unset = UNSET

    def grouping_of(self, endpoint: Endpoint) -> Grouping:
        """The endpoint's grouping once these changes are applied.

        ``group_by: null`` ungroups: the timings it leaves unmentioned are cleared with it.
        """
        ungrouping = self.group_by is None
        wait = None if ungrouping else endpoint.group_wait_seconds
        interval = None if ungrouping else endpoint.group_interval_seconds
        max_events = None if ungrouping else endpoint.group_max_events
        return Grouping(
            group_by=_changed(self.group_by, endpoint.group_by),
            wait_seconds=_changed(self.group_wait_seconds, wait),
            interval_seconds=_changed(self.group_interval_seconds, interval),
            max_events=_changed(self.group_max_events, max_events),
        )


def _changed(change: T | Unset, current: T) -> T:
    return current if isinstance(change, Unset) else change


def _list_or_none(values: Sequence[str] | None) -> list[str] | None:
    return list(values) if values is not None else None


async def update_endpoint(
    *,
    session: AsyncSession,
    guard: UrlGuard,
    endpoint_id: str,
    changes: EndpointChanges,
    changed_by: str,
    now: datetime,
) -> Endpoint:
    """Change target, subscriptions, filters, description or state, validating all first."""
    patterns = (
        _checked_patterns(changes.event_types)
        if not isinstance(changes.event_types, Unset)
        else None
    )
    endpoint = await repository.get_endpoint(session, endpoint_id, lock=True)
    if endpoint is None:
        raise _endpoint_not_found(endpoint_id)
    grouping = _checked_grouping(changes.grouping_of(endpoint))
    if not isinstance(changes.url, Unset) or not isinstance(changes.address, Unset):
        endpoint.url, endpoint.address = await _checked_target(
            guard,
            endpoint.channel,
            changes.url if not isinstance(changes.url, Unset) else endpoint.url,
            changes.address if not isinstance(changes.address, Unset) else endpoint.address,
        )
    if patterns is not None:
        endpoint.event_types = patterns
    if not isinstance(changes.client_ids, Unset):
        endpoint.client_ids = _list_or_none(changes.client_ids)
    if not isinstance(changes.min_priority, Unset):
        endpoint.min_priority = changes.min_priority
    if not isinstance(changes.environments, Unset):
        endpoint.environments = _list_or_none(changes.environments)
    if not isinstance(changes.deliver, Unset):
        endpoint.deliver = changes.deliver
    if not isinstance(changes.except_priorities, Unset):
        endpoint.except_priorities = _list_or_none(changes.except_priorities)
    endpoint.group_by = _list_or_none(grouping.group_by)
    endpoint.group_wait_seconds = grouping.wait_seconds
    endpoint.group_interval_seconds = grouping.interval_seconds
    endpoint.group_max_events = grouping.max_events
    if not isinstance(changes.description, Unset):
        endpoint.description = changes.description
    if changes.status == "enabled" and endpoint.status != "enabled":
        endpoint.status = "enabled"
        endpoint.disabled_reason = None
        endpoint.disabled_at = None
        endpoint.first_failure_at = None  # a fresh start, not the old failure streak
    elif changes.status == "disabled" and endpoint.status != "disabled":
        await _disable_endpoint(
            session, endpoint=endpoint, reason=f"disabled by {changed_by}", now=now
        )
    endpoint.updated_at = now
    await session.commit()
    return endpoint


async def delete_endpoint(*, session: AsyncSession, endpoint_id: str) -> None:
    """Remove the endpoint with its deliveries and attempts (the messages stay)."""
    endpoint = await repository.get_endpoint(session, endpoint_id, lock=True)
    if endpoint is None:
        raise _endpoint_not_found(endpoint_id)
    await session.delete(endpoint)
    await session.commit()


async def rotate_secret(
    *, session: AsyncSession, endpoint_id: str, overlap: timedelta, now: datetime
) -> Endpoint:
    """Issue a new secret; the current one keeps signing (alongside) for ``overlap``.

    Only two secrets are ever live: rotating again inside the window retires the oldest.
    """
    endpoint = await repository.get_endpoint(session, endpoint_id, lock=True)
    if endpoint is None:
        raise _endpoint_not_found(endpoint_id)
    if overlap > timedelta(0):
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret = generate_secret()
    endpoint.updated_at = now
    await session.commit()
    return endpoint


async def _disable_endpoint(
    session: AsyncSession, *, endpoint: Endpoint, reason: str, now: datetime
) -> None:
    """Disable, cancel what was waiting for it (digest groups too), and tell the world
    (same transaction)."""
    endpoint.status = "disabled"
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    endpoint.updated_at = now
    await repository.cancel_pending_deliveries(
        session, endpoint_id=endpoint.id, reason=f"endpoint disabled: {reason}", now=now
    )
    # Events waiting in its digest groups are dropped alike.
    await repository.drop_digest_groups(session, endpoint_id=endpoint.id)
    payload = NotificationEndpointDisabled(endpoint_id=endpoint.id, reason=reason, disabled_at=now)
    await enqueue_event(
        session,
        new_event(payload, service=SERVICE, subject=endpoint.id, client_id=endpoint.client_id),
        schema=SCHEMA,
    )


# --- deliveries ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryView:
    delivery: Delivery
    event_type: str
    attempts: list[DeliveryAttempt]


async def list_endpoint_deliveries(
    *,
    session: AsyncSession,
    endpoint_id: str,
    principal: Principal,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> list[DeliveryView]:
    """A visible endpoint's deliveries with their attempts, newest first.

    Up to ``limit + 1`` of them, the extra one only saying there is more.
    """
    after = decode_cursor(cursor, datetime, str)
    endpoint = await visible_endpoint(session=session, endpoint_id=endpoint_id, principal=principal)
    rows = await repository.list_deliveries(
        session, endpoint_id=endpoint.id, status=status, after=after, limit=limit + 1
    )
    attempts = await repository.attempts_by_delivery(session, [delivery.id for delivery, _ in rows])
    return [
        DeliveryView(delivery=delivery, event_type=event_type, attempts=attempts[delivery.id])
        for delivery, event_type in rows
    ]


async def visible_delivery_view(
    *, session: AsyncSession, delivery_id: str, principal: Principal
) -> DeliveryView:
    """The delivery if the caller may see its endpoint; else, as for a missing one, 404."""
    view = await get_delivery_view(session=session, delivery_id=delivery_id)
    endpoint = await repository.get_endpoint(session, view.delivery.endpoint_id)
    if endpoint is None or not _may_see(principal, endpoint):
        raise _delivery_not_found(delivery_id)
    return view


async def get_delivery_view(*, session: AsyncSession, delivery_id: str) -> DeliveryView:
    delivery = await repository.get_delivery(session, delivery_id)
    if delivery is None:
        raise _delivery_not_found(delivery_id)
    message = await repository.get_message(session, delivery.message_id)
    attempts = await repository.attempts_by_delivery(session, [delivery.id])
    return DeliveryView(
        delivery=delivery,
        event_type=message.event_type if message is not None else "",
        attempts=attempts[delivery.id],
    )


async def retry_delivery(*, session: AsyncSession, delivery_id: str, now: datetime) -> Delivery:
    """Make a delivery due now for one more attempt (same message, same webhook-id).

    A finished delivery gets exactly one extra attempt: its schedule is already spent,
    so a failure makes it failed again rather than starting the retries over.
    """
    delivery = await repository.get_delivery(session, delivery_id)
    if delivery is None:
        raise _delivery_not_found(delivery_id)
    endpoint = await repository.get_endpoint(session, delivery.endpoint_id, lock=True)
    delivery = await repository.get_delivery(session, delivery_id, lock=True)
    if endpoint is None or delivery is None:
        raise _delivery_not_found(delivery_id)
    if endpoint.status != "enabled":
        raise EndpointDisabledError("The endpoint is disabled; enable it before retrying.")
    if delivery.locked_until is not None and delivery.locked_until > now:
        raise DeliveryInFlightError("The delivery is being attempted right now.")
    delivery.status = "pending"
    delivery.due_at = now
    delivery.locked_until = None
    delivery.claim_token = None
    delivery.completed_at = None
    delivery.updated_at = now
    await session.commit()
    return delivery


async def replay_endpoint(
    *, session: AsyncSession, endpoint_id: str, since: datetime, now: datetime
) -> int:
    """Send again every message since ``since`` that the endpoint's subscription matches.

    Matching uses the subscription as it is now. Returns how many deliveries were
    (re)scheduled; already-pending ones are not counted.
    """
    endpoint = await repository.get_endpoint(session, endpoint_id, lock=True)
    if endpoint is None:
        raise _endpoint_not_found(endpoint_id)
    if endpoint.status != "enabled":
        raise EndpointDisabledError("The endpoint is disabled; enable it before replaying.")
    received_types = await repository.message_types_since(session, since)
    wanted_types = [
        event_type
        for event_type in received_types
        if subscription_matches(endpoint.event_types, event_type)
    ]
    count = await repository.replay_messages_to_endpoint(
        session, endpoint=endpoint, event_types=wanted_types, since=since, now=now
    )
    await session.commit()
    return count


# --- the delivery worker's two transactions --------------------------------------------


async def claim_due_deliveries(
    *,
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    limit: int,
    per_endpoint_limit: int | None = None,
    excluded_endpoint_ids: Sequence[str] = (),
    single_slot_endpoint_ids: Sequence[str] = (),
) -> list[ClaimedDelivery]:
    """Reserve due deliveries and commit, so no transaction stays open during HTTP calls."""
    claimed = await repository.claim_due_deliveries(
        session,
        now=now,
        lease_until=now + lease,
        limit=limit,
        per_endpoint_limit=per_endpoint_limit,
        excluded_endpoint_ids=excluded_endpoint_ids,
        single_slot_endpoint_ids=single_slot_endpoint_ids,
    )
    await session.commit()
    return claimed


async def renew_leases(
    *, session: AsyncSession, claims: Sequence[tuple[str, str]], now: datetime, lease: timedelta
) -> int:
    """Keep the claims of attempts still in flight reserved for another ``lease``."""
    renewed = await repository.renew_claims(session, claims=claims, lease_until=now + lease)
    await session.commit()
    return renewed


@dataclass(frozen=True, slots=True)
class RecordedOutcome:
    delivery_status: DeliveryStatus
    endpoint_disabled: bool


async def _emit(session: AsyncSession, endpoint: Endpoint, payload: EventPayload) -> None:
    # Keyed by the endpoint: its failing / recovered / disabled events stay in order.
    await enqueue_event(
        session,
        new_event(payload, service=SERVICE, subject=endpoint.id, client_id=endpoint.client_id),
        schema=SCHEMA,
    )


async def _emit_failing(
    session: AsyncSession,
    endpoint: Endpoint,
    claimed: ClaimedDelivery,
    result: AttemptResult,
    now: datetime,
) -> None:
    await _emit(
        session,
        endpoint,
        NotificationEndpointFailing(
            endpoint_id=endpoint.id,
            delivery_id=claimed.delivery_id,
            message_id=claimed.message_id,
            message_type=claimed.event_type,
            last_error=result.describe_failure(),
            failing_since=now,
        ),
    )


async def _emit_failed(
    session: AsyncSession,
    endpoint: Endpoint,
    claimed: ClaimedDelivery,
    result: AttemptResult,
    now: datetime,
) -> None:
    payload = NotificationFailed(
        delivery_id=claimed.delivery_id,
        endpoint_id=endpoint.id,
        message_id=claimed.message_id,
        message_type=claimed.event_type,
        attempts=claimed.attempt_number,
        last_error=result.describe_failure(),
        failed_at=now,
    )
    await enqueue_event(
        session,
        new_event(
            payload, service=SERVICE, subject=claimed.delivery_id, client_id=endpoint.client_id
        ),
        schema=SCHEMA,
    )


@dataclass(frozen=True, slots=True)
class AttemptToRecord:
    claimed: ClaimedDelivery
    result: AttemptResult
    attempted_at: datetime


async def record_attempts(
    *,
    session: AsyncSession,
    attempts: Sequence[AttemptToRecord],
    schedule: RetrySchedule,
    disable_after: timedelta,
) -> list[RecordedOutcome | None]:
    """Log each attempt and move its delivery on, in order, in one transaction; an
    outcome per attempt, None where the claim was overtaken or the delivery deleted.

    The attempt row is always kept (it happened). A delivery's state only changes if
    this worker still holds the claim — after a lease expiry another worker owns it.

    Set-wise because recorded one by one, each attempt cost a transaction of five round
    trips (two row locks, an insert, two updates) — more than the HTTP call it records.
    Here a batch costs one lock statement per table, one insert of every attempt row and
    one update of every delivery (each a single statement over arrays, built once, no
    ORM), and the rare endpoint changes and events (through the entity). The recorder
    falls back to batches of one when a batch fails, through this same code.
    """
    endpoint_ids = sorted({item.claimed.endpoint_id for item in attempts})
    # Endpoints before deliveries, each in id order: the lock order of every other path.
    endpoints = await repository.lock_endpoints(session, endpoint_ids)
    tokens = await repository.lock_delivery_claims(
        session, [item.claimed.delivery_id for item in attempts]
    )
    attempt_rows: dict[str, list[object]] = {name: [] for name in repository.ATTEMPT_COLUMNS}
    finished: dict[str, list[object]] = {name: [] for name in repository.FINISHED_CLAIM_COLUMNS}
    outcomes: list[RecordedOutcome | None] = []
    for item in attempts:
        claimed, result, now = item.claimed, item.result, item.attempted_at
        endpoint = endpoints.get(claimed.endpoint_id)
        if endpoint is None or claimed.delivery_id not in tokens:
            outcomes.append(None)  # deleted while we were sending
            continue
        _append_row(
            attempt_rows,
            id=repository.new_id(),
            delivery_id=claimed.delivery_id,
            attempt_number=claimed.attempt_number,
            attempted_at=now,
            succeeded=result.succeeded,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_body=result.response_body,
            error=result.error,
        )
        if tokens[claimed.delivery_id] != claimed.claim_token:
            outcomes.append(None)
            continue
        tokens[claimed.delivery_id] = None  # a second result for one claim changes nothing
        last_error = None if result.succeeded else result.describe_failure()
        if endpoint.status != "enabled":
            final_status: DeliveryStatus = "succeeded" if result.succeeded else "cancelled"
            _append_row(
                finished,
                id=claimed.delivery_id,
                status=final_status,
                due_at=None,
                completed_at=now,
                last_status_code=result.status_code,
                last_error=last_error,
                updated_at=now,
            )
            outcomes.append(RecordedOutcome(final_status, endpoint_disabled=False))
            continue
        decision = decide(
            result=result,
            attempts_made=claimed.attempt_number,
            schedule=schedule,
            now=now,
            first_failure_at=endpoint.first_failure_at,
            disable_after=disable_after,
        )
        _append_row(
            finished,
            id=claimed.delivery_id,
            status=decision.delivery_status,
            due_at=decision.next_due_at,
            completed_at=now if decision.finished else None,
            last_status_code=result.status_code,
            last_error=last_error,
            updated_at=now,
        )
        if _changes_endpoint(endpoint, decision):
            # The rare case (a failure streak starts or ends, a delivery fails for good,
            # the endpoint is disabled) goes through the entity; its row is locked above.
            entity = await session.get(Endpoint, claimed.endpoint_id)
            assert entity is not None, "the endpoint's row is locked by this transaction"
            await _apply_endpoint_outcome(session, entity, claimed, result, decision, now)
            endpoint.status, endpoint.first_failure_at = entity.status, entity.first_failure_at
        outcomes.append(
            RecordedOutcome(
                decision.delivery_status,
                endpoint_disabled=decision.disable_endpoint_reason is not None,
            )
        )
    await repository.insert_attempts(session, attempt_rows)
    await repository.finish_claims(session, finished)
    await session.commit()
    return outcomes


def _append_row(columns: dict[str, list[object]], **row: object) -> None:
    """Add one row to a batch held column-wise (see ``repository.insert_attempts``)."""
    for name, value in row.items():
        columns[name].append(value)


def _changes_endpoint(endpoint: repository.LockedEndpoint, decision: Decision) -> bool:
    """Whether :func:`_apply_endpoint_outcome` has anything to do for this decision."""
    return (
        endpoint.first_failure_at != decision.endpoint_first_failure_at
        or decision.delivery_status == "failed"
        or decision.disable_endpoint_reason is not None
    )


async def _apply_endpoint_outcome(
    session: AsyncSession,
    endpoint: Endpoint,
    claimed: ClaimedDelivery,
    result: AttemptResult,
    decision: Decision,
    now: datetime,
) -> None:
    """The endpoint's side of one decision: failure streak, outcome events, disabling."""
    failing_since = endpoint.first_failure_at
    if failing_since != decision.endpoint_first_failure_at:
        endpoint.first_failure_at = decision.endpoint_first_failure_at
    if failing_since is None and decision.endpoint_first_failure_at is not None:
        await _emit_failing(session, endpoint, claimed, result, now)
    elif failing_since is not None and decision.endpoint_first_failure_at is None:
        await _emit(
            session,
            endpoint,
            NotificationEndpointRecovered(
                endpoint_id=endpoint.id,
                delivery_id=claimed.delivery_id,
                failing_since=failing_since,
                recovered_at=now,
            ),
        )
    if decision.delivery_status == "failed":
        await _emit_failed(session, endpoint, claimed, result, now)
    if decision.disable_endpoint_reason is not None:
        await _disable_endpoint(
            session, endpoint=endpoint, reason=decision.disable_endpoint_reason, now=now
        )
