"""``/v1/deliveries``: one delivery with its attempts, and manual retry."""

from __future__ import annotations

from fastapi import APIRouter, status

from aftercare_notify import use_cases
from aftercare_notify.api.schemas import DeliveryOut
from aftercare_notify.api.views import delivery_out
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.clock import utc_now
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1/deliveries",
    tags=["deliveries"],
    responses=problem_responses(
        {
            401: "No credentials, or ones that are not valid.",
            403: "Staff only (retrying).",
            404: "No such delivery, or one of an endpoint the caller may not see.",
            409: "The endpoint is disabled, or the delivery is being attempted right now.",
            429: "Too many calls with this client API key; see Retry-After.",
        }
    ),
)


@router.get("/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(
    delivery_id: str, principal: CurrentPrincipal, session: SessionDep
) -> DeliveryOut:
    view = await use_cases.visible_delivery_view(
        session=session, delivery_id=delivery_id, principal=principal
    )
    return delivery_out(view)


@router.post(
    "/{delivery_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryOut
)
async def retry_delivery(
    delivery_id: str, principal: StaffPrincipal, session: SessionDep
) -> DeliveryOut:
    """Attempt again now, with the same ``webhook-id``; 409 while disabled or in flight."""
    await use_cases.retry_delivery(session=session, delivery_id=delivery_id, now=utc_now())
    view = await use_cases.get_delivery_view(session=session, delivery_id=delivery_id)
    return delivery_out(view)
