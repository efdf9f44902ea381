"""``/v1/advisories``: security advisories in the OSV schema, and whom they affect."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Response

from aftercare_releases import patch_use_cases
from aftercare_releases.api.dependencies import SettingsDep
from aftercare_releases.api.patch_schemas import AdvisoryOut, ImportOut, ImportRefusal
from aftercare_releases.errors import InvalidAdvisoryError
from aftercare_shared.auth.dependencies import StaffPrincipal
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1/advisories",
    tags=["advisories"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "The call needs a staff token.",
            404: "No such advisory.",
            413: "The body is over the size limit; nothing stored.",
            422: "Not a usable OSV advisory (`invalid-advisory`); nothing was changed.",
        }
    ),
)


@router.post("", status_code=201, response_model=AdvisoryOut)
async def publish_advisory(
    document: Annotated[dict[str, Any], Body(description="An OSV document.")],
    session: SessionDep,
    principal: StaffPrincipal,
    response: Response,
) -> AdvisoryOut:
    """Publish an advisory (or a newer ``modified`` of one) and recompute its matches.

    201 when new, 200 when it updated or did not change (not newer) a stored one.
    """
    advisory, outcome = await patch_use_cases.publish_advisory(session=session, document=document)
    if outcome != "created":
        response.status_code = 200
    # An advisory id comes from its source: a header carries it percent-encoded.
    response.headers["Location"] = f"/v1/advisories/{quote(advisory.id, safe='')}"
    _, exposures = await patch_use_cases.get_advisory(session=session, advisory_id=advisory.id)
    return AdvisoryOut.of(advisory, exposures, outcome=outcome)


@router.post("/import", response_model=ImportOut)
async def import_advisories(
    documents: Annotated[list[Any], Body(description="OSV documents (an OSV data export).")],
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
) -> ImportOut:
    """Publish many advisories; each one refused is listed with its reason."""
    if len(documents) > settings.advisory_import_max_items:
        raise InvalidAdvisoryError(
            f"An import carries at most {settings.advisory_import_max_items} documents."
        )
    report = await patch_use_cases.import_advisories(session=session, documents=documents)
    return ImportOut(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        refused=[ImportRefusal(**refusal) for refusal in report.refused],
    )


@router.get("/{advisory_id}", response_model=AdvisoryOut)
async def get_advisory(
    advisory_id: str, session: SessionDep, principal: StaffPrincipal
) -> AdvisoryOut:
    """The advisory with the client environments it affects and those patched since."""
    advisory, exposures = await patch_use_cases.get_advisory(
        session=session, advisory_id=advisory_id
    )
    return AdvisoryOut.of(advisory, exposures)
