"""``/v1/endpoints``: subscriptions, their secrets, their deliveries, replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from aftercare_notify import use_cases
from aftercare_notify.api.dependencies import SettingsDep, UrlGuardDep
from aftercare_notify.api.schemas import (
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointPatch,
    EndpointSecret,
    ReplayAccepted,
    ReplayRequest,
)
from aftercare_notify.api.views import delivery_out, endpoint_created, endpoint_out
from aftercare_notify.domain.grouping import Grouping
from aftercare_notify.domain.routing import RouteFilters
from aftercare_notify.domain.statuses import DeliveryStatus
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.clock import utc_now
from aftercare_shared.pagination import DEFAULT_PAGE_SIZE, Page, PageCursor, PageLimit, page_of
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1/endpoints",
    tags=["endpoints"],
    responses=problem_responses(
        {
            401: "No credentials, or ones that are not valid.",
            403: "Staff only (a client API key may only read its client's endpoints).",
            404: "No such endpoint, or one the caller may not see.",
            409: "The endpoint is disabled (retry and replay need it enabled).",
            422: "Invalid input: unknown event types (`invalid-event-types`), a refused URL "
            "(`url-not-allowed`), an unresolvable host (`url-unresolvable`), an unsupported "
            "channel (`channel-not-supported`), a target that does not fit the channel "
            "(`invalid-endpoint-target`), grouping timings without `group_by` or a field "
            "named twice (`invalid-grouping`, naming the `field`), a bad cursor or field "
            "(`validation-failed`).",
            429: "Too many calls with this client API key; see Retry-After.",
        }
    ),
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated)
async def create_endpoint(
    body: EndpointCreate,
    principal: StaffPrincipal,
    session: SessionDep,
    guard: UrlGuardDep,
    response: Response,
) -> EndpointCreated:
    """Subscribe a URL (webhook, slack) or an address (email) to event types and filters.

    The answer includes the ``whsec_`` signing secret (used by webhooks).
    """
    endpoint = await use_cases.create_endpoint(
        session=session,
        guard=guard,
        url=body.url,
        address=body.address,
        event_types=body.event_types,
        channel=body.channel,
        client_id=body.client_id,
        filters=RouteFilters(
            client_ids=body.client_ids,
            min_priority=body.min_priority,
            environments=body.environments,
        ),
        deliver=body.deliver,
        except_priorities=body.except_priorities,
        grouping=Grouping(
            group_by=body.group_by,
            wait_seconds=body.group_wait_seconds,
            interval_seconds=body.group_interval_seconds,
            max_events=body.group_max_events,
        ),
        description=body.description,
        now=utc_now(),
    )
    response.headers["Location"] = f"/v1/endpoints/{endpoint.id}"
    return endpoint_created(endpoint)


@router.get("", response_model=Page[EndpointOut])
async def list_endpoints(
    principal: CurrentPrincipal,
    session: SessionDep,
    client_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[EndpointOut]:
    """Oldest first. Staff: all endpoints (or one client's). A client API key: its own only."""
    endpoints = await use_cases.list_visible_endpoints(
        session=session, principal=principal, client_id=client_id, cursor=cursor, limit=limit
    )
    return page_of(
        endpoints,
        limit=limit,
        key=lambda endpoint: (endpoint.created_at, endpoint.id),
        item=endpoint_out,
    )


@router.get("/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(
    endpoint_id: str, principal: CurrentPrincipal, session: SessionDep
) -> EndpointOut:
    endpoint = await use_cases.visible_endpoint(
        session=session, endpoint_id=endpoint_id, principal=principal
    )
    return endpoint_out(endpoint)


@router.patch("/{endpoint_id}", response_model=EndpointOut)
async def update_endpoint(
    endpoint_id: str,
    body: EndpointPatch,
    principal: StaffPrincipal,
    session: SessionDep,
    guard: UrlGuardDep,
) -> EndpointOut:
    """Change url, event_types, description (null clears it), or status."""
    endpoint = await use_cases.update_endpoint(
        session=session,
        guard=guard,
        endpoint_id=endpoint_id,
        changes=use_cases.EndpointChanges(**body.changes()),
        changed_by=principal.subject,
        now=utc_now(),
    )
    return endpoint_out(endpoint)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(
    endpoint_id: str, principal: StaffPrincipal, session: SessionDep
) -> Response:
    await use_cases.delete_endpoint(session=session, endpoint_id=endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{endpoint_id}/secret", response_model=EndpointSecret)
async def get_secret(
    endpoint_id: str, principal: StaffPrincipal, session: SessionDep
) -> EndpointSecret:
    """The current signing secret (staff only)."""
    endpoint = await use_cases.visible_endpoint(
        session=session, endpoint_id=endpoint_id, principal=principal
    )
    return EndpointSecret(
        endpoint_id=endpoint.id,
        secret=endpoint.secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointSecret)
async def rotate_secret(
    endpoint_id: str, principal: StaffPrincipal, session: SessionDep, settings: SettingsDep
) -> EndpointSecret:
    """New secret now; the old one keeps signing alongside it for the overlap window."""
    endpoint = await use_cases.rotate_secret(
        session=session,
        endpoint_id=endpoint_id,
        overlap=timedelta(seconds=settings.secret_rotation_overlap_seconds),
        now=utc_now(),
    )
    return EndpointSecret(
        endpoint_id=endpoint.id,
        secret=endpoint.secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


@router.get("/{endpoint_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    endpoint_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[DeliveryOut]:
    """Newest first, each with every attempt (status, latency, truncated response, error)."""
    views = await use_cases.list_endpoint_deliveries(
        session=session,
        endpoint_id=endpoint_id,
        principal=principal,
        status=delivery_status,
        cursor=cursor,
        limit=limit,
    )
    return page_of(
        views,
        limit=limit,
        key=lambda view: (view.delivery.created_at, view.delivery.id),
        item=delivery_out,
    )


@router.post(
    "/{endpoint_id}/replay", status_code=status.HTTP_202_ACCEPTED, response_model=ReplayAccepted
)
async def replay(
    endpoint_id: str, body: ReplayRequest, principal: StaffPrincipal, session: SessionDep
) -> ReplayAccepted:
    """Send again every matching message received since ``since`` (same webhook-ids)."""
    enqueued = await use_cases.replay_endpoint(
        session=session, endpoint_id=endpoint_id, since=body.since, now=utc_now()
    )
    return ReplayAccepted(endpoint_id=endpoint_id, since=body.since, enqueued=enqueued)
