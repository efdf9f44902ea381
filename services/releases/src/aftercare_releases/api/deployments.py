"""``/v1/deployments``: what each client environment runs, and its SBOM."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from aftercare_releases import patch_use_cases
from aftercare_releases.api.access import client_scope
from aftercare_releases.api.dependencies import SettingsDep
from aftercare_releases.api.patch_schemas import (
    DeploymentCreate,
    DeploymentOut,
    DeploymentUpdate,
    SbomAccepted,
)
from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1/deployments",
    tags=["deployments"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            404: "No such deployment or client (or not this client key's own).",
            409: "The deployment cannot move to that status (`deployment-transition`).",
            413: "The body, or the SBOM's component count, is over the limit; nothing stored.",
            422: "The request or SBOM is not valid (`invalid-sbom`, `unknown-product`); "
            "nothing was changed.",
            429: "Too many calls with this client key; retry after Retry-After seconds.",
        }
    ),
)


@router.post("", status_code=201, response_model=DeploymentOut)
async def create_deployment(
    body: DeploymentCreate, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> DeploymentOut:
    """Report a deployment; a client key (a CI pipeline) only for its own client.

    A ``succeeded`` deployment (the default) emits ``release.deployed``, becomes what the
    environment runs and recomputes the environment's advisory matches.
    """
    deployment = await patch_use_cases.create_deployment(
        session=session,
        scope=client_scope(principal),
        client_id=body.client_id,
        environment=body.environment,
        product=body.product,
        version=body.version,
        status=body.status,
    )
    response.headers["Location"] = f"/v1/deployments/{deployment.id}"
    return DeploymentOut.of(deployment)


@router.get("/{deployment_id}", response_model=DeploymentOut)
async def get_deployment(
    deployment_id: str, session: SessionDep, principal: CurrentPrincipal
) -> DeploymentOut:
    deployment = await patch_use_cases.get_deployment(
        session=session, scope=client_scope(principal), deployment_id=deployment_id
    )
    return DeploymentOut.of(deployment)


@router.patch("/{deployment_id}", response_model=DeploymentOut)
async def update_deployment(
    deployment_id: str, body: DeploymentUpdate, session: SessionDep, principal: CurrentPrincipal
) -> DeploymentOut:
    """Move the deployment on: in_progress → succeeded | failed; succeeded → rolled_back."""
    deployment = await patch_use_cases.update_deployment(
        session=session,
        scope=client_scope(principal),
        deployment_id=deployment_id,
        status=body.status,
    )
    return DeploymentOut.of(deployment)


@router.put(
    "/{deployment_id}/sbom",
    response_model=SbomAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/vnd.cyclonedx+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def put_sbom(
    deployment_id: str,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> SbomAccepted:
    """Replace the deployment's SBOM (CycloneDX 1.4-1.6 JSON); components kept by purl."""
    deployment, components = await patch_use_cases.put_sbom(
        session=session,
        scope=client_scope(principal),
        deployment_id=deployment_id,
        document=await request.body(),
        max_components=settings.sbom_max_components,
    )
    assert deployment.sbom_format is not None
    return SbomAccepted(
        deployment_id=deployment.id, sbom_format=deployment.sbom_format, components=components
    )
