"""Advisory matching: publish an OSV advisory against many clients' SBOMs.

A fresh releases database holds ``clients x environments`` succeeded deployments, each
with a CycloneDX SBOM of ``components`` PyPI packages, all running an affected version of
one package. Publishing the advisory (releases' own use case, one transaction) recomputes
its matches: one exposure and one ``advisory.matched`` event per client environment.
Reported: time to publish + match, and matches per second. Bounded by the sizes below.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from aftercare_releases import patch_use_cases
from aftercare_releases.models import Deployment, Exposure, SbomComponent
from aftercare_shared.db import create_session_factory
from bench.report import TableRow, number
from devkit.databases import create_migrated_database, drop_database

CLIENTS = 200
ENVIRONMENTS = ("production", "staging")
COMPONENTS = 300
AFFECTED_PACKAGE = "pkg-0"
PRODUCT = "bench-shop"


@dataclass(frozen=True, slots=True)
class MatchingResult:
    clients: int
    environments: int
    components: int
    seed_seconds: float
    publish_seconds: float
    matches: int

    @property
    def matches_per_second(self) -> float:
        return self.matches / self.publish_seconds if self.publish_seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "environments": self.environments,
            "components": self.components,
            "seed_seconds": round(self.seed_seconds, 2),
            "publish_seconds": round(self.publish_seconds, 3),
            "matches": self.matches,
            "matches_per_second": round(self.matches_per_second, 1),
        }


def _sbom(components: int) -> bytes:
    return orjson.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "components": [
                {
                    "type": "library",
                    "name": f"pkg-{index}",
                    "version": "1.0.0",
                    "purl": f"pkg:pypi/pkg-{index}@1.0.0",
                }
                for index in range(components)
            ],
        }
    )


def _advisory() -> dict[str, Any]:
    return {
        "schema_version": "1.6.0",
        "id": f"GHSA-bench-{uuid.uuid4().hex[:8]}",
        "modified": "2026-11-01T00:00:00Z",
        "summary": "Bench advisory",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": AFFECTED_PACKAGE},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}
                ],
            }
        ],
    }


async def _copy_environments(
    sessions: async_sessionmaker[AsyncSession], template_id: str, *, clients: int
) -> None:
    """Every other client environment: the template deployment and its SBOM, copied."""
    async with sessions() as session:
        template = await session.get_one(Deployment, template_id)
        components = (
            await session.execute(
                select(SbomComponent.purl, SbomComponent.package, SbomComponent.version).where(
                    SbomComponent.deployment_id == template_id
                )
            )
        ).all()
        copied = {
            column.key: getattr(template, column.key) for column in Deployment.__table__.columns
        }
        deployments: list[dict[str, Any]] = []
        for index in range(clients * len(ENVIRONMENTS)):
            client, environment = divmod(index, len(ENVIRONMENTS))
            if index == 0:
                continue  # the template itself
            deployments.append(
                {
                    **copied,
                    "id": str(uuid.uuid4()),
                    "client_id": template.client_id if client == 0 else f"bench-client-{client}",
                    "environment": ENVIRONMENTS[environment],
                }
            )
        await session.execute(insert(Deployment), deployments)
        rows = [
            {"deployment_id": d["id"], "purl": purl, "package": package, "version": version}
            for d in deployments
            for purl, package, version in components
        ]
        for start in range(0, len(rows), 10_000):
            await session.execute(insert(SbomComponent), rows[start : start + 10_000])
        await session.commit()


async def measure_advisory_matching(
    *, clients: int = CLIENTS, components: int = COMPONENTS
) -> MatchingResult:
    url = await create_migrated_database("releases", prefix="benchmatch")
    engine = create_async_engine(url)
    try:
        sessions = create_session_factory(engine)
        seeding = time.perf_counter()
        async with sessions() as session:
            await patch_use_cases.create_product(
                session=session, name=PRODUCT, ecosystem="PyPI", repository_url=None
            )
        # The first environment goes through releases' own use cases (deployment, SBOM
        # upload); the rest are bulk copies of its rows, so seeding stays a few seconds.
        async with sessions() as session:
            first = await patch_use_cases.create_deployment(
                session=session,
                scope=None,
                client_id=str(uuid.uuid4()),
                environment=ENVIRONMENTS[0],
                product=PRODUCT,
                version="1.0.0",
                status="succeeded",
            )
        async with sessions() as session:
            await patch_use_cases.put_sbom(
                session=session,
                scope=None,
                deployment_id=first.id,
                document=_sbom(components),
                max_components=components,
            )
        await _copy_environments(sessions, first.id, clients=clients)
        seed_seconds = time.perf_counter() - seeding
        advisory = _advisory()
        publishing = time.perf_counter()
        async with sessions() as session:
            await patch_use_cases.publish_advisory(session=session, document=advisory)
        publish_seconds = time.perf_counter() - publishing
        async with sessions() as session:
            matches = await session.scalar(
                select(func.count()).where(Exposure.advisory_id == advisory["id"])
            )
    finally:
        await engine.dispose()
        await drop_database(url)
    return MatchingResult(
        clients=clients,
        environments=len(ENVIRONMENTS),
        components=components,
        seed_seconds=seed_seconds,
        publish_seconds=publish_seconds,
        matches=int(matches or 0),
    )


def matching_rows(result: MatchingResult) -> list[TableRow]:
    name = "7 advisory matching"
    shape = f"{result.clients} clients x {result.environments} envs x {result.components} comps"
    return [
        TableRow(
            name,
            f"publish + match ms ({shape})",
            number(result.publish_seconds * 1000),
            "",
            "",
            "",
        ),
        TableRow(
            name,
            f"matches/s ({result.matches} matches)",
            number(result.matches_per_second),
            "",
            "",
            "",
        ),
    ]
