"""Recompute advisory matches for a scope and store and announce what changed.

Called inside the transaction of the change that calls for it: publishing an advisory
(scope: that advisory, every client), a deployment that succeeded or was rolled back, or
a new SBOM (scope: that client environment, every advisory). Newly affected environments
emit ``advisory.matched``; a client none of whose environments is affected any more emits
``advisory.patched``, naming the deployment that did it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_releases import patch_repository as repo
from aftercare_releases.advisories import AffectedPackage
from aftercare_releases.matching import ExposureChanges, Hit, diff_exposures, find_hits
from aftercare_releases.models import Advisory
from aftercare_shared.events.catalog import AdvisoryMatched, AdvisoryPatched
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName, schema_of
from aftercare_shared.outbox import enqueue_event

SERVICE = ServiceName.RELEASES
SCHEMA = schema_of(SERVICE)


async def recompute_for_advisory(
    session: AsyncSession, advisory: Advisory, packages: Sequence[AffectedPackage], *, now: datetime
) -> int:
    """Match one advisory against every client; how many clients it affects now."""
    hits: list[Hit] = []
    if advisory.withdrawn_at is None:
        names = {package.name for package in packages}
        own = await repo.products_named(session, names)
        component_keys = {
            p.package for p in packages if p.name not in own and p.package is not None
        }
        products = await repo.installed_products(session, products=own)
        components = await repo.installed_components(session, packages=component_keys)
        hits = find_hits(
            advisory.id, packages, own_products=own, products=products, components=components
        )
    before = await repo.affected_exposure_keys(session, advisory_id=advisory.id)
    changes = diff_exposures(before, hits, still_affected_elsewhere={})
    await _store_and_announce(
        session, changes, advisories={advisory.id: advisory}, now=now, deployment_id=None
    )
    return len({hit.client_id for hit in hits})


async def recompute_for_environment(
    session: AsyncSession,
    *,
    client_id: str,
    environment: str,
    now: datetime,
    deployment_id: str | None,
) -> ExposureChanges:
    """Match every advisory against what one client environment runs now."""
    products = await repo.installed_products(session, client_id=client_id, environment=environment)
    components = await repo.installed_components(
        session, client_id=client_id, environment=environment
    )
    product_names = {installed.product for installed in products}
    packages_by_advisory = await repo.advisory_packages(
        session,
        names=product_names,
        packages={component.package for component in components},
    )
    own = await repo.products_named(session, product_names)
    hits: list[Hit] = []
    for advisory_id, packages in packages_by_advisory.items():
        hits += find_hits(
            advisory_id, packages, own_products=own, products=products, components=components
        )
    before = await repo.affected_exposure_keys(
        session, client_id=client_id, environment=environment
    )
    elsewhere = await repo.clients_affected_elsewhere(
        session, client_id=client_id, other_than_environment=environment
    )
    changes = diff_exposures(
        before,
        hits,
        still_affected_elsewhere={(advisory_id, client_id): True for advisory_id in elsewhere},
    )
    involved = {hit.advisory_id for hit in changes.newly_affected}
    involved |= {advisory_id for advisory_id, _ in changes.patched_clients}
    advisories = await repo.advisories_by_id(session, involved)
    await _store_and_announce(
        session, changes, advisories=advisories, now=now, deployment_id=deployment_id
    )
    return changes


async def _store_and_announce(
    session: AsyncSession,
    changes: ExposureChanges,
    *,
    advisories: Mapping[str, Advisory],
    now: datetime,
    deployment_id: str | None,
) -> None:
    await repo.upsert_affected(session, changes.affected, now=now)
    await repo.mark_patched(
        session, changes.no_longer_affected, now=now, deployment_id=deployment_id
    )
    for hit in changes.newly_affected:
        advisory = advisories[hit.advisory_id]
        matched = AdvisoryMatched(
            advisory_id=advisory.id,
            aliases=advisory.aliases,
            summary=advisory.summary,
            client_id=hit.client_id,
            environment=hit.environment,
            product=hit.product,
            component_purl=hit.component_purl,
            installed_version=hit.installed_version,
            fixed_versions=list(hit.fixed_versions),
            severity=advisory.severity,
            cvss_score=advisory.cvss_score,
            deployment_id=hit.deployment_id,
            matched_at=now,
        )
        await enqueue_event(
            session,
            new_event(matched, service=SERVICE, subject=advisory.id, client_id=hit.client_id),
            schema=SCHEMA,
        )
    for advisory_id, client_id in changes.patched_clients:
        patched = AdvisoryPatched(
            advisory_id=advisory_id,
            client_id=client_id,
            deployment_id=deployment_id,
            patched_at=now,
        )
        await enqueue_event(
            session,
            new_event(patched, service=SERVICE, subject=advisory_id, client_id=client_id),
            schema=SCHEMA,
        )
