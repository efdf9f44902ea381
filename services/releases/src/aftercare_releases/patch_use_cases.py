"""What the products, deployments, SBOM, advisory and exposure APIs do.

Each public function is one transaction, committed at its end. Matching is recomputed in
the same transaction as the change that calls for it, so a stored deployment, SBOM or
advisory and the events about what it exposes commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases import exposure_updates
from aftercare_releases import patch_repository as repo
from aftercare_releases.advisories import AdvisoryRuleError, parse_osv
from aftercare_releases.deployments import DeploymentStatus, ensure_deployment_transition
from aftercare_releases.domain import canonical_id
from aftercare_releases.errors import (
    AdvisoryNotFoundError,
    ClientNotFoundError,
    DeploymentNotFoundError,
    DuplicateProductError,
    InvalidAdvisoryError,
    InvalidSbomError,
    ProductNotFoundError,
    SbomTooLargeError,
    UnknownProductError,
)
from aftercare_releases.models import Advisory, Deployment, Exposure, Product
from aftercare_releases.sbom import SbomRuleError, TooManyComponentsError, parse_cyclonedx_json
from aftercare_releases.versions import parse_version
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import AdvisoryPublished, ReleaseDeployed
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.outbox import enqueue_event
from aftercare_shared.pagination import Page, decode_cursor, page_of

SERVICE = ServiceName.RELEASES
SCHEMA = schema_of(SERVICE)


# --- products ------------------------------------------------------------------------


async def create_product(
    *, session: AsyncSession, name: str, ecosystem: str | None, repository_url: str | None
) -> Product:
    if await repo.find_product(session, name) is not None:
        raise DuplicateProductError(f"A product named {name} exists already.")
    product = Product(
        name=name, ecosystem=ecosystem, repository_url=repository_url, created_at=utc_now()
    )
    session.add(product)
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        raise DuplicateProductError(f"A product named {name} exists already.") from error
    await session.commit()
    return product


async def get_product(*, session: AsyncSession, name: str) -> Product:
    product = await repo.find_product(session, name)
    if product is None:
        raise ProductNotFoundError("No such product.")
    return product


async def list_products(*, session: AsyncSession, cursor: str | None, limit: int) -> Page[Product]:
    after = decode_cursor(cursor, str)
    rows = await repo.list_products(session, after=after, limit=limit + 1)
    return page_of(rows, limit=limit, key=lambda product: (product.name,), item=lambda p: p)


# --- deployments ---------------------------------------------------------------------


def _ensure_own_client(client_id: str, scope: str | None) -> None:
    """A client key acts only for its own client; another client looks like nothing."""
    if scope is not None and scope != client_id:
        raise ClientNotFoundError("No such client.")


async def _find_deployment(
    session: AsyncSession, deployment_id: str, *, scope: str | None, lock: bool = False
) -> Deployment:
    stored_id = canonical_id(deployment_id)
    deployment = (
        None if stored_id is None else await repo.find_deployment(session, stored_id, lock=lock)
    )
    if deployment is None or (scope is not None and deployment.client_id != scope):
        raise DeploymentNotFoundError("No such deployment.")
    return deployment


async def create_deployment(
    *,
    session: AsyncSession,
    scope: str | None,
    client_id: str,
    environment: str,
    product: str,
    version: str,
    status: DeploymentStatus,
) -> Deployment:
    """Record a deployment; a succeeded one becomes what the environment runs."""
    _ensure_own_client(client_id, scope)
    if await repo.find_product(session, product) is None:
        raise UnknownProductError(
            f"No product named {product} is registered; POST /v1/products first."
        )
    parsed = parse_version(version)
    release = await repo.release_with_version_key(session, product, parsed.key)
    now = utc_now()
    deployment = Deployment(
        id=str(uuid.uuid4()),
        client_id=client_id,
        environment=environment,
        product=product,
        version=parsed.text,
        version_key=parsed.key,
        release_id=release.id if release is not None else None,
        status="in_progress",
        created_at=now,
        updated_at=now,
    )
    session.add(deployment)
    await session.flush()
    await _move(session, deployment, status, now=now)
    await session.commit()
    return deployment


async def update_deployment(
    *, session: AsyncSession, scope: str | None, deployment_id: str, status: DeploymentStatus
) -> Deployment:
    deployment = await _find_deployment(session, deployment_id, scope=scope, lock=True)
    await _move(session, deployment, status, now=utc_now())
    await session.commit()
    return deployment


async def _move(
    session: AsyncSession, deployment: Deployment, status: DeploymentStatus, *, now: datetime
) -> None:
    """Apply a status change; what the environment runs may change, so are its matches."""
    if not ensure_deployment_transition(deployment.status, status):
        return
    previous = None
    if status == "succeeded":
        previous = await repo.current_deployment(
            session,
            client_id=deployment.client_id,
            environment=deployment.environment,
            product=deployment.product,
        )
        deployment.succeeded_at = now
    deployment.status = status
    deployment.updated_at = now
    await session.flush()
    if status == "succeeded":
        fixed = await repo.client_ticket_ids_fixed_up_to(
            session,
            client_id=deployment.client_id,
            product=deployment.product,
            version_key=deployment.version_key,
        )
        payload = ReleaseDeployed(
            deployment_id=deployment.id,
            client_id=deployment.client_id,
            environment=deployment.environment,
            product=deployment.product,
            version=deployment.version,
            release_id=deployment.release_id,
            previous_version=previous.version if previous is not None else None,
            deployed_at=now,
            fixed_ticket_ids=fixed,
        )
        await enqueue_event(
            session,
            new_event(
                payload, service=SERVICE, subject=deployment.id, client_id=deployment.client_id
            ),
            schema=SCHEMA,
        )
    if status in {"succeeded", "rolled_back"}:
        await exposure_updates.recompute_for_environment(
            session,
            client_id=deployment.client_id,
            environment=deployment.environment,
            now=now,
            deployment_id=deployment.id,
        )


async def get_deployment(
    *, session: AsyncSession, scope: str | None, deployment_id: str
) -> Deployment:
    return await _find_deployment(session, deployment_id, scope=scope)


@dataclass(frozen=True, slots=True)
class MatrixCell:
    product: str
    current_version: str
    current_deployment_id: str
    previous_version: str | None
    since: datetime


@dataclass(frozen=True, slots=True)
class MatrixRow:
    environment: str
    products: list[MatrixCell]


async def deployment_matrix(
    *, session: AsyncSession, scope: str | None, client_id: str
) -> list[MatrixRow]:
    """Environment x product → current version, previous version, since when."""
    _ensure_own_client(client_id, scope)
    deployments = await repo.succeeded_deployments_of_client(session, client_id)
    by_cell: dict[tuple[str, str], list[Deployment]] = {}
    for deployment in deployments:  # newest first within a cell
        by_cell.setdefault((deployment.environment, deployment.product), []).append(deployment)
    rows: dict[str, list[MatrixCell]] = {}
    for (environment, product), history in by_cell.items():
        current = history[0]
        assert current.succeeded_at is not None
        rows.setdefault(environment, []).append(
            MatrixCell(
                product=product,
                current_version=current.version,
                current_deployment_id=current.id,
                previous_version=history[1].version if len(history) > 1 else None,
                since=current.succeeded_at,
            )
        )
    return [MatrixRow(environment=env, products=cells) for env, cells in sorted(rows.items())]


# --- SBOMs ---------------------------------------------------------------------------


async def put_sbom(
    *,
    session: AsyncSession,
    scope: str | None,
    deployment_id: str,
    document: bytes,
    max_components: int,
) -> tuple[Deployment, int]:
    """Replace the deployment's SBOM; matches of its environment are recomputed."""
    deployment = await _find_deployment(session, deployment_id, scope=scope, lock=True)
    try:
        parsed = parse_cyclonedx_json(document, max_components=max_components)
    except TooManyComponentsError as error:
        raise SbomTooLargeError(str(error)) from error
    except SbomRuleError as error:
        raise InvalidSbomError(str(error)) from error
    now = utc_now()
    await repo.replace_sbom(
        session,
        deployment.id,
        [{"purl": c.purl, "package": c.package, "version": c.version} for c in parsed.components],
    )
    deployment.sbom_uploaded_at = now
    deployment.sbom_format = f"CycloneDX {parsed.spec_version}"
    deployment.updated_at = now
    await session.flush()
    if deployment.status == "succeeded":
        await exposure_updates.recompute_for_environment(
            session,
            client_id=deployment.client_id,
            environment=deployment.environment,
            now=now,
            deployment_id=deployment.id,
        )
    await session.commit()
    return deployment, len(parsed.components)


# --- advisories ----------------------------------------------------------------------

AdvisoryOutcome = Literal["created", "updated", "unchanged"]


async def _store_advisory(session: AsyncSession, document: Any) -> tuple[Advisory, AdvisoryOutcome]:
    """Validate, store (create or update when newer) and match one OSV document."""
    try:
        parsed = parse_osv(document)
    except AdvisoryRuleError as error:
        raise InvalidAdvisoryError(str(error)) from error
    now = utc_now()
    existing = await repo.find_advisory(session, parsed.id, lock=True)
    if existing is not None and existing.modified_at >= parsed.modified_at:
        return existing, "unchanged"
    if existing is None:
        advisory = Advisory(id=parsed.id, created_at=now)
        session.add(advisory)
        outcome: AdvisoryOutcome = "created"
    else:
        advisory = existing
        outcome = "updated"
    advisory.aliases = parsed.aliases
    advisory.summary = parsed.summary
    advisory.severity = parsed.severity
    advisory.cvss_score = parsed.cvss_score
    advisory.document = dict(document)
    advisory.modified_at = parsed.modified_at
    advisory.withdrawn_at = parsed.withdrawn_at
    advisory.updated_at = now
    await session.flush()
    await repo.replace_advisory_packages(session, advisory.id, parsed.affected)
    affected_clients = await exposure_updates.recompute_for_advisory(
        session, advisory, parsed.affected, now=now
    )
    published = AdvisoryPublished(
        advisory_id=advisory.id,
        aliases=advisory.aliases,
        summary=advisory.summary,
        severity=advisory.severity,
        cvss_score=advisory.cvss_score,
        packages=[f"{p.ecosystem}:{p.name}" for p in parsed.affected],
        affected_clients=affected_clients,
        published_at=now,
    )
    await enqueue_event(
        session, new_event(published, service=SERVICE, subject=advisory.id), schema=SCHEMA
    )
    return advisory, outcome


async def publish_advisory(
    *, session: AsyncSession, document: Any
) -> tuple[Advisory, AdvisoryOutcome]:
    advisory, outcome = await _store_advisory(session, document)
    await session.commit()
    return advisory, outcome


@dataclass(slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)


async def import_advisories(*, session: AsyncSession, documents: Sequence[Any]) -> ImportReport:
    """Store each document on its own savepoint: a refused one leaves the others in."""
    report = ImportReport()
    for index, document in enumerate(documents):
        try:
            async with session.begin_nested():
                advisory, outcome = await _store_advisory(session, document)
        except InvalidAdvisoryError as error:
            advisory_id = document.get("id") if isinstance(document, dict) else None
            report.refused.append(
                {
                    "index": index,
                    "id": advisory_id if isinstance(advisory_id, str) else None,
                    "reason": error.detail,
                }
            )
            continue
        getattr(report, outcome).append(advisory.id)
    await session.commit()
    return report


async def get_advisory(
    *, session: AsyncSession, advisory_id: str
) -> tuple[Advisory, list[Exposure]]:
    advisory = await repo.find_advisory(session, advisory_id)
    if advisory is None:
        raise AdvisoryNotFoundError("No such advisory.")
    return advisory, await repo.exposures_of_advisory(session, advisory.id)


async def client_exposure(
    *, session: AsyncSession, scope: str | None, client_id: str
) -> tuple[list[Exposure], dict[str, Advisory]]:
    """The advisories open for the client, per environment."""
    _ensure_own_client(client_id, scope)
    exposures = await repo.open_exposures_of_client(session, client_id)
    advisories = await repo.advisories_by_id(session, {e.advisory_id for e in exposures})
    return exposures, advisories
