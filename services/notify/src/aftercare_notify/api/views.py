"""ORM rows → response bodies (secrets appear only where a route asks for them)."""

from __future__ import annotations

from typing import cast

from aftercare_notify.api.schemas import AttemptOut, DeliveryOut, EndpointCreated, EndpointOut
from aftercare_notify.domain.grouping import GroupField
from aftercare_notify.domain.quiet_hours import DeliveryMode
from aftercare_notify.domain.statuses import DeliveryStatus, EndpointStatus
from aftercare_notify.models import Endpoint
from aftercare_notify.use_cases import DeliveryView
from aftercare_shared.events.catalog import Priority


def endpoint_out(endpoint: Endpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        address=endpoint.address,
        event_types=list(endpoint.event_types),
        channel=endpoint.channel,
        client_id=endpoint.client_id,
        client_ids=endpoint.client_ids,
        min_priority=cast(Priority | None, endpoint.min_priority),
        environments=endpoint.environments,
        deliver=cast(DeliveryMode, endpoint.deliver),
        except_priorities=cast(list[Priority] | None, endpoint.except_priorities),
        group_by=cast(list[GroupField] | None, endpoint.group_by),
        group_wait_seconds=endpoint.group_wait_seconds,
        group_interval_seconds=endpoint.group_interval_seconds,
        group_max_events=endpoint.group_max_events,
        description=endpoint.description,
        status=cast(EndpointStatus, endpoint.status),
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def endpoint_created(endpoint: Endpoint) -> EndpointCreated:
    return EndpointCreated(**endpoint_out(endpoint).model_dump(), secret=endpoint.secret)


def delivery_out(view: DeliveryView) -> DeliveryOut:
    delivery = view.delivery
    return DeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        message_id=delivery.message_id,
        event_type=view.event_type,
        status=cast(DeliveryStatus, delivery.status),
        attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.due_at if delivery.status == "pending" else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        completed_at=delivery.completed_at,
        attempts=[
            AttemptOut(
                attempt_number=attempt.attempt_number,
                attempted_at=attempt.attempted_at,
                succeeded=attempt.succeeded,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                response_body=attempt.response_body,
                error=attempt.error,
            )
            for attempt in view.attempts
        ],
    )
