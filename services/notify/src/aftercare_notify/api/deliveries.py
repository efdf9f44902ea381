"""``/v1/deliveries``: one delivery with its attempts, and manual retry."""

from __future__ import annotations

from fastapi import APIRouter, status

from aftercare_notify import use_cases
from aftercare_notify.api.schemas import DeliveryOut
from aftercare_notify.api.views import delivery_out
from aftercare_notify.problems import delivery_not_found
from aftercare_shared.auth.dependencies import CurrentPrincipal, StaffPrincipal
from aftercare_shared.events.envelope import utc_now
from aftercare_shared.problems import Problem
from aftercare_shared.sessions import SessionDep

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


@router.get("/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(
    delivery_id: str, principal: CurrentPrincipal, session: SessionDep
) -> DeliveryOut:
    view = await use_cases.get_delivery_view(session=session, delivery_id=delivery_id)
    try:
        await use_cases.visible_endpoint(
            session=session, endpoint_id=view.delivery.endpoint_id, principal=principal
        )
    except Problem:
        raise delivery_not_found(delivery_id) from None
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
