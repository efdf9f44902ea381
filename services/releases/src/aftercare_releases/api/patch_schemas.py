"""HTTP bodies of the products, deployments, SBOM, advisory and exposure APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field

from aftercare_releases.deployments import (
    ENVIRONMENT_MAX_LENGTH,
    DeploymentStatus,
    normalize_environment,
)
from aftercare_releases.domain import PRODUCT_MAX_LENGTH, VERSION_MAX_LENGTH, normalize_product
from aftercare_releases.models import Advisory, Deployment, Exposure, Product
from aftercare_releases.versions import normalize_version

ProductName = Annotated[
    str,
    Field(min_length=1, max_length=PRODUCT_MAX_LENGTH + 20),
    AfterValidator(normalize_product),
]
Environment = Annotated[
    str,
    Field(min_length=1, max_length=ENVIRONMENT_MAX_LENGTH + 20, examples=["production"]),
    AfterValidator(normalize_environment),
]
Version = Annotated[
    str,
    Field(min_length=1, max_length=VERSION_MAX_LENGTH + 120, examples=["1.4.2", "v1.4.2"]),
    AfterValidator(normalize_version),
]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ProductName = Field(
        description="Also the package name security advisories name the product by."
    )
    ecosystem: str | None = Field(
        default=None, max_length=50, description="OSV ecosystem (PyPI, npm, Maven, Go…)."
    )
    repository_url: AnyHttpUrl | None = None


class ProductOut(BaseModel):
    name: str
    ecosystem: str | None
    repository_url: str | None
    created_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(
            name=product.name,
            ecosystem=product.ecosystem,
            repository_url=product.repository_url,
            created_at=product.created_at,
        )


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=64)
    environment: Environment
    product: ProductName
    version: Version
    status: DeploymentStatus = "succeeded"


class DeploymentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: DeploymentStatus


class DeploymentOut(BaseModel):
    id: str
    client_id: str
    environment: str
    product: str
    version: str
    release_id: str | None = Field(description="The release of this version, if there is one.")
    status: DeploymentStatus
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None
    sbom_uploaded_at: datetime | None
    sbom_format: str | None

    @classmethod
    def of(cls, deployment: Deployment) -> DeploymentOut:
        return cls(
            id=deployment.id,
            client_id=deployment.client_id,
            environment=deployment.environment,
            product=deployment.product,
            version=deployment.version,
            release_id=deployment.release_id,
            status=deployment.status,
            created_at=deployment.created_at,
            updated_at=deployment.updated_at,
            succeeded_at=deployment.succeeded_at,
            sbom_uploaded_at=deployment.sbom_uploaded_at,
            sbom_format=deployment.sbom_format,
        )


class SbomAccepted(BaseModel):
    deployment_id: str
    sbom_format: str
    components: int = Field(description="Components kept (those with a Package URL).")


class MatrixCellOut(BaseModel):
    product: str
    current_version: str
    current_deployment_id: str
    previous_version: str | None
    since: datetime


class MatrixRowOut(BaseModel):
    environment: str
    products: list[MatrixCellOut]


class DeploymentMatrixOut(BaseModel):
    client_id: str
    environments: list[MatrixRowOut]


class AdvisoryExposureOut(BaseModel):
    client_id: str
    environment: str
    target: str = Field(description="product:<name> or the component's purl without version.")
    installed_version: str
    matched_at: datetime
    patched_at: datetime | None
    patched_by_deployment_id: str | None

    @classmethod
    def of(cls, exposure: Exposure) -> AdvisoryExposureOut:
        return cls(
            client_id=exposure.client_id,
            environment=exposure.environment,
            target=exposure.target,
            installed_version=exposure.installed_version,
            matched_at=exposure.matched_at,
            patched_at=exposure.patched_at,
            patched_by_deployment_id=exposure.patched_by_deployment_id,
        )


class AdvisoryOut(BaseModel):
    id: str
    aliases: list[str]
    summary: str | None
    severity: str | None
    cvss_score: float | None
    modified_at: datetime
    withdrawn_at: datetime | None
    created_at: datetime
    updated_at: datetime
    outcome: str | None = Field(
        default=None, description="On POST: created, updated or unchanged (not newer)."
    )
    affected: list[AdvisoryExposureOut]
    patched: list[AdvisoryExposureOut]
    document: dict[str, Any] = Field(description="The OSV document as published.")

    @classmethod
    def of(
        cls, advisory: Advisory, exposures: list[Exposure], *, outcome: str | None = None
    ) -> AdvisoryOut:
        return cls(
            id=advisory.id,
            aliases=advisory.aliases,
            summary=advisory.summary,
            severity=advisory.severity,
            cvss_score=advisory.cvss_score,
            modified_at=advisory.modified_at,
            withdrawn_at=advisory.withdrawn_at,
            created_at=advisory.created_at,
            updated_at=advisory.updated_at,
            outcome=outcome,
            affected=[AdvisoryExposureOut.of(e) for e in exposures if e.status == "affected"],
            patched=[AdvisoryExposureOut.of(e) for e in exposures if e.status == "patched"],
            document=advisory.document,
        )


class ImportRefusal(BaseModel):
    index: int
    id: str | None
    reason: str


class ImportOut(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    refused: list[ImportRefusal]


class ExposureTargetOut(BaseModel):
    target: str
    installed_version: str
    matched_at: datetime


class OpenAdvisoryOut(BaseModel):
    advisory_id: str
    aliases: list[str]
    summary: str | None
    severity: str | None
    cvss_score: float | None
    targets: list[ExposureTargetOut]


class EnvironmentExposureOut(BaseModel):
    environment: str
    advisories: list[OpenAdvisoryOut]


class ClientExposureOut(BaseModel):
    client_id: str
    environments: list[EnvironmentExposureOut]
