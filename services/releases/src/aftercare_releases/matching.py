"""Which client environments an advisory affects, and what changed since last time.

Pure functions over what the database handed over: the versions each environment runs
(own products, from succeeded deployments) and the components it ships (from SBOMs). The
use cases load only the rows that can match (by package name or purl), so the cost grows
with the matches, not with the number of clients or advisories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from aftercare_releases.advisories import AffectedPackage, is_affected

ExposureStatus = Literal["affected", "patched"]
EXPOSURE_STATUSES: Final[tuple[ExposureStatus, ...]] = get_args(ExposureStatus)

ExposureKey = tuple[str, str, str, str]
"""(advisory id, client id, environment, target)."""


def product_target(product: str) -> str:
    return f"product:{product}"


@dataclass(frozen=True, slots=True)
class InstalledProduct:
    client_id: str
    environment: str
    product: str
    version: str
    deployment_id: str


@dataclass(frozen=True, slots=True)
class InstalledComponent:
    client_id: str
    environment: str
    package: str
    purl: str
    version: str
    deployment_id: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One affected thing in one environment of one client."""

    advisory_id: str
    client_id: str
    environment: str
    target: str
    installed_version: str
    deployment_id: str
    product: str | None
    component_purl: str | None
    fixed_versions: tuple[str, ...]

    @property
    def key(self) -> ExposureKey:
        return (self.advisory_id, self.client_id, self.environment, self.target)


def find_hits(
    advisory_id: str,
    packages: Sequence[AffectedPackage],
    *,
    own_products: Iterable[str],
    products: Iterable[InstalledProduct],
    components: Iterable[InstalledComponent],
) -> list[Hit]:
    """What the advisory affects among the installed products and components given.

    A package whose name is one of the agency's own products targets that product;
    any other is matched against SBOM components by normalised purl type + name.
    """
    own = set(own_products)
    by_name: dict[str, list[AffectedPackage]] = {}
    by_package: dict[str, list[AffectedPackage]] = {}
    for package in packages:
        if package.name in own:
            by_name.setdefault(package.name, []).append(package)
        elif package.package is not None:
            by_package.setdefault(package.package, []).append(package)
    hits: dict[ExposureKey, Hit] = {}
    for installed in products:
        for package in by_name.get(installed.product, []):
            if is_affected(package, installed.version, own_product=True):
                hit = Hit(
                    advisory_id=advisory_id,
                    client_id=installed.client_id,
                    environment=installed.environment,
                    target=product_target(installed.product),
                    installed_version=installed.version,
                    deployment_id=installed.deployment_id,
                    product=installed.product,
                    component_purl=None,
                    fixed_versions=tuple(package.fixed_versions()),
                )
                hits.setdefault(hit.key, hit)
    for component in components:
        for package in by_package.get(component.package, []):
            if is_affected(package, component.version):
                hit = Hit(
                    advisory_id=advisory_id,
                    client_id=component.client_id,
                    environment=component.environment,
                    target=component.package,
                    installed_version=component.version,
                    deployment_id=component.deployment_id,
                    product=None,
                    component_purl=component.purl,
                    fixed_versions=tuple(package.fixed_versions()),
                )
                hits.setdefault(hit.key, hit)
    return list(hits.values())


@dataclass(slots=True)
class ExposureChanges:
    """How a recomputation changes the stored exposures of its scope."""

    affected: list[Hit] = field(default_factory=list)
    """Every hit now (inserted or refreshed)."""
    newly_affected: list[Hit] = field(default_factory=list)
    """One hit per (advisory, client, environment) that had no affected target before."""
    no_longer_affected: list[ExposureKey] = field(default_factory=list)
    patched_clients: list[tuple[str, str]] = field(default_factory=list)
    """(advisory, client) pairs that had an affected environment and now have none."""


def diff_exposures(
    previously_affected: Iterable[ExposureKey],
    hits: Sequence[Hit],
    *,
    still_affected_elsewhere: Mapping[tuple[str, str], bool],
) -> ExposureChanges:
    """Compare the scope's stored affected exposures with the hits recomputed for it.

    ``still_affected_elsewhere`` says, per (advisory, client), whether that client has an
    affected exposure outside the recomputed scope (another environment), which keeps
    the advisory open for the client.
    """
    before = set(previously_affected)
    now = {hit.key: hit for hit in hits}
    environments_before = {(a, c, e) for a, c, e, _ in before}
    changes = ExposureChanges(affected=list(now.values()))
    announced: set[tuple[str, str, str]] = set()
    for key, hit in now.items():
        environment = key[:3]
        newly = key not in before and environment not in environments_before
        if newly and environment not in announced:
            announced.add(environment)
            changes.newly_affected.append(hit)
    changes.no_longer_affected = sorted(before - now.keys())
    clients_before = {(a, c) for a, c, _, _ in before}
    clients_now = {(a, c) for a, c, _, _ in now}
    changes.patched_clients = sorted(
        pair
        for pair in clients_before - clients_now
        if not still_affected_elsewhere.get(pair, False)
    )
    return changes
