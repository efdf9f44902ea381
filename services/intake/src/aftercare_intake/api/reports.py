"""Client systems report bugs; the answer comes only once the ticket is durable."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Response

from aftercare_intake import report_fast_path, use_cases
from aftercare_intake.api.dependencies import ReportingClientId, SettingsDep
from aftercare_intake.api.schemas import ReportAccepted, ReportCreate
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1",
    tags=["reports"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "Reports are sent with a client API key (scope client or ingest), not a "
            "staff credential.",
            422: "The report is not valid, or its Idempotency-Key was used with another body.",
            429: "Too many reports for this API key; see Retry-After.",
        }
    ),
)


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportAccepted,
    responses={
        200: {
            "model": ReportAccepted,
            "description": "Counted on the ticket of its fingerprint (which a regression reopens).",
        }
    },
)
async def submit_report(
    body: ReportCreate,
    client_id: ReportingClientId,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200, min_length=1)] = None,
) -> Response:
    outcome = await use_cases.submit_report(
        session,
        client_id=client_id,
        report=body,
        idempotency_key=idempotency_key,
        idempotency_ttl=settings.idempotency_ttl,
        policy=settings.occurrence_policy,
    )
    return Response(
        orjson.dumps(outcome.body),
        status_code=outcome.status_code,
        media_type="application/json",
        headers={"Location": f"/v1/tickets/{outcome.body['ticket_id']}"},
    )


# Most reports never reach the route above: the fast path answers them in one statement
# and hands it the rest (report_fast_path.py says which, and why it exists).
report_fast_path.install(router)
