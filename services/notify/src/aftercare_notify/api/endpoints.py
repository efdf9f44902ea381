"""``/v1/endpoints``: subscriptions, their secrets, their deliveries, replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from aftercare_notify import use_cases
from aftercare_notify.api.dependencies import SettingsDep, UrlGuardDep
from aftercare_notify.api.schemas import (
    DeliveryList,
    DeliveryStatusName,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
    EndpointOut,
    EndpointPatch,
    EndpointSecret,
    ReplayAccepted,
    ReplayRequest,
)
from aftercare_notify.api.views import delivery_out, endpoint_created, endpoint_out
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.events.envelope import utc_now
from aftercare_shared.problems import PROBLEM_BASE_URI, Problem
from aftercare_shared.sessions import SessionDep

router = APIRouter(prefix="/v1/endpoints", tags=["endpoints"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _next_offset(offset: int, limit: int, returned: int) -> int | None:
    return offset + limit if returned == limit else None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated)
async def create_endpoint(
    body: EndpointCreate,
    principal: StaffPrincipal,
    session: SessionDep,
    guard: UrlGuardDep,
    response: Response,
) -> EndpointCreated:
    """Subscribe a URL to event types; the answer includes the ``whsec_`` signing secret."""
    endpoint = await use_cases.create_endpoint(
        session=session,
        guard=guard,
        url=body.url,
        event_types=body.event_types,
        channel=body.channel,
        client_id=body.client_id,
        description=body.description,
        now=utc_now(),
    )
    response.headers["Location"] = f"/v1/endpoints/{endpoint.id}"
    return endpoint_created(endpoint)


@router.get("", response_model=EndpointList)
async def list_endpoints(
    principal: CurrentPrincipal,
    session: SessionDep,
    client_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> EndpointList:
    """Staff: all endpoints (or one client's). A client API key: its client's only."""
    endpoints = await use_cases.list_visible_endpoints(
        session=session, principal=principal, client_id=client_id, limit=limit, offset=offset
    )
    return EndpointList(
        items=[endpoint_out(endpoint) for endpoint in endpoints],
        next_offset=_next_offset(offset, limit, len(endpoints)),
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
    """Change url, event_types, description, or status (`enabled` / `disabled`)."""
    for field in ("url", "event_types", "status"):
        if field in body.model_fields_set and getattr(body, field) is None:
            raise Problem(
                422,
                f"{field} cannot be null; leave it out to keep the current value.",
                problem_type=PROBLEM_BASE_URI + "validation-failed",
            )
    endpoint = await use_cases.update_endpoint(
        session=session,
        guard=guard,
        endpoint_id=endpoint_id,
        changes=use_cases.EndpointChanges(
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            description_set="description" in body.model_fields_set,
            status=body.status,
        ),
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


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    endpoint_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    delivery_status: Annotated[DeliveryStatusName | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryList:
    """Newest first, each with every attempt (status, latency, truncated response, error)."""
    endpoint = await use_cases.visible_endpoint(
        session=session, endpoint_id=endpoint_id, principal=principal
    )
    views = await use_cases.list_endpoint_deliveries(
        session=session, endpoint=endpoint, status=delivery_status, limit=limit, offset=offset
    )
    return DeliveryList(
        items=[delivery_out(view) for view in views],
        next_offset=_next_offset(offset, limit, len(views)),
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
