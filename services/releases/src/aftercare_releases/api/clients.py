"""``/v1/clients/{id}/…``: a client's deployment matrix, exposure and changelog."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime
from starlette.responses import PlainTextResponse

from aftercare_releases import patch_use_cases, use_cases
from aftercare_releases.api.access import client_scope
from aftercare_releases.api.patch_schemas import (
    ClientExposureOut,
    DeploymentMatrixOut,
    EnvironmentExposureOut,
    ExposureTargetOut,
    MatrixCellOut,
    MatrixRowOut,
    OpenAdvisoryOut,
)
from aftercare_releases.api.schemas import ChangelogOut, ChangelogRangeOut
from aftercare_releases.changelog import render_markdown
from aftercare_releases.domain import PRODUCT_MAX_LENGTH, normalize_product
from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1/clients",
    tags=["clients"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            404: "Another client than this client key's own.",
            422: "A bad query parameter; nothing was read.",
            429: "Too many calls with this client key; retry after Retry-After seconds.",
        }
    ),
)


@router.get("/{client_id}/deployments", response_model=DeploymentMatrixOut)
async def deployment_matrix(
    client_id: str, session: SessionDep, principal: CurrentPrincipal
) -> DeploymentMatrixOut:
    """Environment x product → current version, previous version, since when."""
    rows = await patch_use_cases.deployment_matrix(
        session=session, scope=client_scope(principal), client_id=client_id
    )
    return DeploymentMatrixOut(
        client_id=client_id,
        environments=[
            MatrixRowOut(
                environment=row.environment,
                products=[
                    MatrixCellOut(
                        product=cell.product,
                        current_version=cell.current_version,
                        current_deployment_id=cell.current_deployment_id,
                        previous_version=cell.previous_version,
                        since=cell.since,
                    )
                    for cell in row.products
                ],
            )
            for row in rows
        ],
    )


@router.get("/{client_id}/exposure", response_model=ClientExposureOut)
async def client_exposure(
    client_id: str, session: SessionDep, principal: CurrentPrincipal
) -> ClientExposureOut:
    """The advisories open for the client, per environment, with what is affected."""
    exposures, advisories = await patch_use_cases.client_exposure(
        session=session, scope=client_scope(principal), client_id=client_id
    )
    by_environment: dict[str, dict[str, OpenAdvisoryOut]] = {}
    for exposure in exposures:
        advisory = advisories[exposure.advisory_id]
        open_advisory = by_environment.setdefault(exposure.environment, {}).setdefault(
            advisory.id,
            OpenAdvisoryOut(
                advisory_id=advisory.id,
                aliases=advisory.aliases,
                summary=advisory.summary,
                severity=advisory.severity,
                cvss_score=advisory.cvss_score,
                targets=[],
            ),
        )
        open_advisory.targets.append(
            ExposureTargetOut(
                target=exposure.target,
                installed_version=exposure.installed_version,
                matched_at=exposure.matched_at,
            )
        )
    return ClientExposureOut(
        client_id=client_id,
        environments=[
            EnvironmentExposureOut(environment=environment, advisories=list(found.values()))
            for environment, found in sorted(by_environment.items())
        ],
    )


@router.get(
    "/{client_id}/changelog",
    response_model=ChangelogRangeOut,
    responses={200: {"content": {"text/markdown": {}}}},
)
async def client_changelog(
    client_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    product: Annotated[
        str | None,
        Query(min_length=1, max_length=PRODUCT_MAX_LENGTH + 20),
        AfterValidator(lambda value: None if value is None else normalize_product(value)),
    ] = None,
    since: AwareDatetime | None = None,
    output_format: Annotated[Literal["json", "markdown"], Query(alias="format")] = "json",
) -> ChangelogRangeOut | PlainTextResponse:
    """What reached this client: releases fixing its tickets or of products it runs.

    Only the client's own tickets are listed; ``since`` keeps releases published then or
    later.
    """
    changelogs = await use_cases.client_changelog(
        session=session,
        scope=client_scope(principal),
        client_id=client_id,
        product=product,
        since=since,
    )
    documents = [changelog.document for changelog in changelogs]
    title = "Changelog" if product is None else f"Changelog of {product}"
    markdown = render_markdown(title, documents)
    if output_format == "markdown":
        return PlainTextResponse(markdown, media_type="text/markdown; charset=utf-8")
    return ChangelogRangeOut(
        title=title,
        releases=[ChangelogOut.of(document) for document in documents],
        markdown=markdown,
    )
