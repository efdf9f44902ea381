"""Data access for products, deployments, SBOM components, advisories and exposures.

Nothing here commits. The queries that feed matching load only rows that can match: the
versions environments run now (the latest succeeded deployment per client, environment
and product), and the components of their latest SBOM, narrowed by product name or
package key through indexes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    any_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases.advisories import AffectedPackage
from aftercare_releases.matching import ExposureKey, Hit, InstalledComponent, InstalledProduct
from aftercare_releases.models import (
    Advisory,
    AdvisoryPackage,
    Deployment,
    Exposure,
    Product,
    Release,
    ReleaseItem,
    SbomComponent,
    TicketView,
)
from aftercare_shared.pagination import CursorPosition, after_position


def _texts(values: Collection[str]) -> Any:
    # One array parameter, not one per value: scopes may name thousands of packages.
    return any_(literal(list(values), ARRAY(Text)))


# --- products ------------------------------------------------------------------------


async def find_product(session: AsyncSession, name: str) -> Product | None:
    return await session.get(Product, name)


async def list_products(
    session: AsyncSession, *, after: CursorPosition | None, limit: int
) -> list[Product]:
    conditions: list[ColumnElement[bool]] = [true()]
    keyset = after_position([Product.name], after, descending=False)
    if keyset is not None:
        conditions.append(keyset)
    statement = select(Product).where(*conditions).order_by(Product.name).limit(limit)
    return list((await session.execute(statement)).scalars())


async def products_named(session: AsyncSession, names: Collection[str]) -> set[str]:
    if not names:
        return set()
    rows = await session.execute(select(Product.name).where(Product.name == _texts(names)))
    return set(rows.scalars())


async def published_releases(
    session: AsyncSession,
    product: str,
    *,
    above_key: str | None = None,
    up_to_key: str | None = None,
    release_ids: Collection[str] | None = None,
) -> list[Release]:
    """Published (or rolled-back) releases of ``product``, newest precedence first."""
    conditions: list[ColumnElement[bool]] = [
        Release.product == product,
        Release.status.in_(("published", "rolled_back")),
        Release.version_key.is_not(None),
    ]
    if above_key is not None:
        conditions.append(Release.version_key > above_key)
    if up_to_key is not None:
        conditions.append(Release.version_key <= up_to_key)
    if release_ids is not None:
        conditions.append(Release.id == _texts(release_ids))
    statement = select(Release).where(*conditions).order_by(Release.version_key.desc())
    return list((await session.execute(statement)).scalars())


async def release_with_version_key(
    session: AsyncSession, product: str, version_key: str
) -> Release | None:
    statement = select(Release).where(
        Release.product == product, Release.version_key == version_key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def client_ticket_ids_fixed_up_to(
    session: AsyncSession, *, client_id: str, product: str, version_key: str
) -> list[str]:
    """The client's tickets listed by published releases of ``product`` up to that version."""
    statement = (
        select(ReleaseItem.ticket_id)
        .join(Release, Release.id == ReleaseItem.release_id)
        .join(TicketView, TicketView.ticket_id == ReleaseItem.ticket_id)
        .where(
            Release.product == product,
            Release.status == "published",
            Release.version_key <= version_key,
            TicketView.client_id == client_id,
        )
        .order_by(ReleaseItem.ticket_id)
        .distinct()
    )
    return list((await session.execute(statement)).scalars())


async def releases_for_client(
    session: AsyncSession, *, client_id: str, product: str | None, since: datetime | None
) -> list[Release]:
    """Published releases listing a ticket of the client or of a product it has run."""
    reported = (
        select(ReleaseItem.release_id)
        .join(TicketView, TicketView.ticket_id == ReleaseItem.ticket_id)
        .where(TicketView.client_id == client_id)
    )
    # Releases of a product the client runs, up to the newest version it ever ran.
    runs = (
        select(Deployment.product, func.max(Deployment.version_key).label("top"))
        .where(Deployment.client_id == client_id, Deployment.succeeded_at.is_not(None))
        .group_by(Deployment.product)
        .subquery()
    )
    ran = select(Release.id).join(
        runs, and_(runs.c.product == Release.product, Release.version_key <= runs.c.top)
    )
    conditions: list[ColumnElement[bool]] = [
        Release.status.in_(("published", "rolled_back")),
        or_(Release.id.in_(reported), Release.id.in_(ran)),
    ]
    if product is not None:
        conditions.append(Release.product == product)
    if since is not None:
        conditions.append(Release.published_at >= since)
    statement = (
        select(Release)
        .where(*conditions)
        .order_by(Release.product, Release.version_key.desc().nulls_last())
    )
    return list((await session.execute(statement)).scalars())


# --- deployments ---------------------------------------------------------------------


async def find_deployment(
    session: AsyncSession, deployment_id: str, *, lock: bool = False
) -> Deployment | None:
    statement = select(Deployment).where(Deployment.id == deployment_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def current_deployment(
    session: AsyncSession, *, client_id: str, environment: str, product: str
) -> Deployment | None:
    statement = (
        select(Deployment)
        .where(
            Deployment.client_id == client_id,
            Deployment.environment == environment,
            Deployment.product == product,
            Deployment.status == "succeeded",
        )
        .order_by(Deployment.succeeded_at.desc(), Deployment.created_at.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def succeeded_deployments_of_client(
    session: AsyncSession, client_id: str
) -> list[Deployment]:
    """Every deployment that runs or ran, newest first per environment and product."""
    statement = (
        select(Deployment)
        .where(Deployment.client_id == client_id, Deployment.status == "succeeded")
        .order_by(
            Deployment.environment,
            Deployment.product,
            Deployment.succeeded_at.desc(),
            Deployment.created_at.desc(),
        )
    )
    return list((await session.execute(statement)).scalars())


def _current(*conditions: ColumnElement[bool]) -> Any:
    """Per (client, environment, product) the latest succeeded deployment."""
    return (
        select(
            Deployment.id,
            Deployment.client_id,
            Deployment.environment,
            Deployment.product,
            Deployment.version,
        )
        .where(Deployment.status == "succeeded", *conditions)
        .ext(distinct_on(Deployment.client_id, Deployment.environment, Deployment.product))
        .order_by(
            Deployment.client_id,
            Deployment.environment,
            Deployment.product,
            Deployment.succeeded_at.desc(),
            Deployment.created_at.desc(),
        )
    )


async def installed_products(
    session: AsyncSession,
    *,
    products: Collection[str] | None = None,
    client_id: str | None = None,
    environment: str | None = None,
) -> list[InstalledProduct]:
    conditions: list[ColumnElement[bool]] = []
    if products is not None:
        if not products:
            return []
        conditions.append(Deployment.product == _texts(products))
    if client_id is not None:
        conditions.append(Deployment.client_id == client_id)
    if environment is not None:
        conditions.append(Deployment.environment == environment)
    rows = await session.execute(_current(*conditions))
    return [
        InstalledProduct(
            client_id=row.client_id,
            environment=row.environment,
            product=row.product,
            version=row.version,
            deployment_id=row.id,
        )
        for row in rows
    ]


def _sbom_deployments(*conditions: ColumnElement[bool]) -> Any:
    """Per (client, environment, product) the latest succeeded deployment with an SBOM.

    A deployment reported without an SBOM leaves the previous SBOM in force: what is known
    to be installed stays known until a newer SBOM says otherwise.
    """
    return (
        select(Deployment.id, Deployment.client_id, Deployment.environment)
        .where(
            Deployment.status == "succeeded", Deployment.sbom_uploaded_at.is_not(None), *conditions
        )
        .ext(distinct_on(Deployment.client_id, Deployment.environment, Deployment.product))
        .order_by(
            Deployment.client_id,
            Deployment.environment,
            Deployment.product,
            Deployment.succeeded_at.desc(),
            Deployment.created_at.desc(),
        )
        .subquery()
    )


async def installed_components(
    session: AsyncSession,
    *,
    packages: Collection[str] | None = None,
    client_id: str | None = None,
    environment: str | None = None,
) -> list[InstalledComponent]:
    conditions: list[ColumnElement[bool]] = []
    if client_id is not None:
        conditions.append(Deployment.client_id == client_id)
    if environment is not None:
        conditions.append(Deployment.environment == environment)
    current = _sbom_deployments(*conditions)
    component_conditions: list[ColumnElement[bool]] = []
    if packages is not None:
        if not packages:
            return []
        component_conditions.append(SbomComponent.package == _texts(packages))
    statement = (
        select(
            current.c.client_id,
            current.c.environment,
            current.c.id,
            SbomComponent.package,
            SbomComponent.purl,
            SbomComponent.version,
        )
        .join(current, current.c.id == SbomComponent.deployment_id)
        .where(*component_conditions)
    )
    rows = await session.execute(statement)
    return [
        InstalledComponent(
            client_id=row.client_id,
            environment=row.environment,
            package=row.package,
            purl=row.purl,
            version=row.version,
            deployment_id=row.id,
        )
        for row in rows
    ]


async def replace_sbom(
    session: AsyncSession, deployment_id: str, components: Sequence[dict[str, str]]
) -> None:
    await session.execute(delete(SbomComponent).where(SbomComponent.deployment_id == deployment_id))
    if components:
        await session.execute(
            insert(SbomComponent),
            [{"deployment_id": deployment_id, **component} for component in components],
        )


# --- advisories ----------------------------------------------------------------------


async def find_advisory(
    session: AsyncSession, advisory_id: str, *, lock: bool = False
) -> Advisory | None:
    statement = select(Advisory).where(Advisory.id == advisory_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def replace_advisory_packages(
    session: AsyncSession, advisory_id: str, packages: Sequence[AffectedPackage]
) -> None:
    await session.execute(delete(AdvisoryPackage).where(AdvisoryPackage.advisory_id == advisory_id))
    await session.execute(
        insert(AdvisoryPackage),
        [
            {
                "advisory_id": advisory_id,
                "position": position,
                "ecosystem": package.ecosystem,
                "name": package.name,
                "package": package.package,
                "affected": package.as_json(),
            }
            for position, package in enumerate(packages)
        ],
    )


async def advisory_packages(
    session: AsyncSession,
    *,
    advisory_ids: Collection[str] | None = None,
    names: Collection[str] = (),
    packages: Collection[str] = (),
) -> dict[str, list[AffectedPackage]]:
    """Affected packages of advisories in force, by advisory id.

    Either of given advisories, or of every advisory naming one of ``names`` (own
    products) or ``packages`` (component keys).
    """
    conditions: list[ColumnElement[bool]] = [Advisory.withdrawn_at.is_(None)]
    if advisory_ids is not None:
        conditions.append(AdvisoryPackage.advisory_id == _texts(advisory_ids))
    else:
        wanted: list[ColumnElement[bool]] = []
        if names:
            wanted.append(AdvisoryPackage.name == _texts(names))
        if packages:
            wanted.append(AdvisoryPackage.package == _texts(packages))
        if not wanted:
            return {}
        conditions.append(or_(*wanted))
    statement = (
        select(AdvisoryPackage.advisory_id, AdvisoryPackage.affected)
        .join(Advisory, Advisory.id == AdvisoryPackage.advisory_id)
        .where(*conditions)
        .order_by(AdvisoryPackage.advisory_id, AdvisoryPackage.position)
    )
    found: dict[str, list[AffectedPackage]] = {}
    for advisory_id, affected in await session.execute(statement):
        found.setdefault(advisory_id, []).append(AffectedPackage.from_json(affected))
    return found


async def advisories_by_id(
    session: AsyncSession, advisory_ids: Collection[str]
) -> dict[str, Advisory]:
    if not advisory_ids:
        return {}
    rows = await session.execute(select(Advisory).where(Advisory.id == _texts(advisory_ids)))
    return {advisory.id: advisory for advisory in rows.scalars()}


# --- exposures -----------------------------------------------------------------------


async def affected_exposure_keys(
    session: AsyncSession,
    *,
    advisory_id: str | None = None,
    client_id: str | None = None,
    environment: str | None = None,
) -> list[ExposureKey]:
    conditions: list[ColumnElement[bool]] = [Exposure.status == "affected"]
    if advisory_id is not None:
        conditions.append(Exposure.advisory_id == advisory_id)
    if client_id is not None:
        conditions.append(Exposure.client_id == client_id)
    if environment is not None:
        conditions.append(Exposure.environment == environment)
    rows = await session.execute(
        select(
            Exposure.advisory_id, Exposure.client_id, Exposure.environment, Exposure.target
        ).where(*conditions)
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def clients_affected_elsewhere(
    session: AsyncSession, *, client_id: str, other_than_environment: str
) -> set[str]:
    """Advisories with an affected exposure of the client in another environment."""
    rows = await session.execute(
        select(Exposure.advisory_id)
        .where(
            Exposure.client_id == client_id,
            Exposure.environment != other_than_environment,
            Exposure.status == "affected",
        )
        .distinct()
    )
    return set(rows.scalars())


async def upsert_affected(session: AsyncSession, hits: Sequence[Hit], *, now: datetime) -> None:
    if not hits:
        return
    statement = pg_insert(Exposure).values(
        [
            {
                "advisory_id": hit.advisory_id,
                "client_id": hit.client_id,
                "environment": hit.environment,
                "target": hit.target,
                "installed_version": hit.installed_version,
                "status": "affected",
                "matched_at": now,
                "patched_at": None,
                "patched_by_deployment_id": None,
            }
            for hit in hits
        ]
    )
    was_patched = Exposure.status == "patched"
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[
                Exposure.advisory_id,
                Exposure.client_id,
                Exposure.environment,
                Exposure.target,
            ],
            set_={
                "installed_version": statement.excluded.installed_version,
                "status": "affected",
                # A re-opened exposure is a new match; a refreshed one keeps its time.
                # A re-opened exposure is a new match; a refreshed one keeps its time.
                "matched_at": case(
                    (was_patched, statement.excluded.matched_at), else_=Exposure.matched_at
                ),
                "patched_at": None,
                "patched_by_deployment_id": None,
            },
        )
    )


async def mark_patched(
    session: AsyncSession,
    keys: Sequence[ExposureKey],
    *,
    now: datetime,
    deployment_id: str | None,
) -> None:
    for advisory_id, client_id, environment, target in keys:
        await session.execute(
            update(Exposure)
            .where(
                Exposure.advisory_id == advisory_id,
                Exposure.client_id == client_id,
                Exposure.environment == environment,
                Exposure.target == target,
            )
            .values(status="patched", patched_at=now, patched_by_deployment_id=deployment_id)
        )


async def exposures_of_advisory(session: AsyncSession, advisory_id: str) -> list[Exposure]:
    statement = (
        select(Exposure)
        .where(Exposure.advisory_id == advisory_id)
        .order_by(Exposure.client_id, Exposure.environment, Exposure.target)
    )
    return list((await session.execute(statement)).scalars())


async def open_exposures_of_client(session: AsyncSession, client_id: str) -> list[Exposure]:
    statement = (
        select(Exposure)
        .join(Advisory, Advisory.id == Exposure.advisory_id)
        .where(
            Exposure.client_id == client_id,
            Exposure.status == "affected",
            Advisory.withdrawn_at.is_(None),
        )
        .order_by(Exposure.environment, Exposure.advisory_id, Exposure.target)
    )
    return list((await session.execute(statement)).scalars())
