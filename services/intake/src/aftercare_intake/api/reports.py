"""Client systems report bugs; the answer comes only once the ticket is durable."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request, Response

from aftercare_intake import use_cases
from aftercare_intake.schemas import ReportAccepted, ReportCreate
from aftercare_shared.auth.authenticator import forbidden
from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.sessions import SessionDep

router = APIRouter(prefix="/v1", tags=["reports"])


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportAccepted,
    responses={200: {"model": ReportAccepted, "description": "Joined an existing ticket."}},
)
async def submit_report(
    body: ReportCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200, min_length=1)] = None,
) -> Response:
    if principal.client_id is None:
        raise forbidden("Reports are sent with a client API key.")
    request.app.state.report_rate_limiter.check(principal.api_key_id or principal.client_id)
    outcome = await use_cases.submit_report(
        session,
        client_id=principal.client_id,
        report=body,
        idempotency_key=idempotency_key,
        idempotency_ttl=request.app.state.idempotency_ttl,
    )
    return Response(
        orjson.dumps(outcome.body),
        status_code=outcome.status_code,
        media_type="application/json",
        headers={"Location": f"/v1/tickets/{outcome.body['ticket_id']}"},
    )
