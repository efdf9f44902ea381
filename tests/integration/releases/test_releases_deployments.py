"""Deployments per client environment, the matrix, SBOM uploads and tenant isolation."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_releases import patch_use_cases
from aftercare_releases.errors import SbomTooLargeError
from aftercare_releases.models import Deployment, SbomComponent
from tests.integration.releases.patch_support import cyclonedx, deploy, events_of, new_product
from tests.integration.releases.releases_support import release_body, seed_client, seed_ticket

pytestmark = pytest.mark.integration


async def test_the_matrix_shows_current_and_previous_versions_per_environment(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    client = await seed_client(session_factory)
    shop, portal = await new_product(api, staff, "shop"), await new_product(api, staff, "portal")
    await deploy(api, staff, client_id=client.client_id, product=shop, version="1.0.0")
    second = await deploy(api, staff, client_id=client.client_id, product=shop, version="v1.1.0")
    await deploy(
        api, staff, client_id=client.client_id, product=shop, version="1.2.0", environment="Staging"
    )
    await deploy(api, staff, client_id=client.client_id, product=portal, version="3.0.0")
    failed = await deploy(
        api, staff, client_id=client.client_id, product=portal, version="3.1.0", status="failed"
    )
    assert failed["succeeded_at"] is None
    matrix = (await api.get(f"/v1/clients/{client.client_id}/deployments", headers=staff)).json()
    cells = {
        (row["environment"], cell["product"]): cell
        for row in matrix["environments"]
        for cell in row["products"]
    }
    assert cells[("production", shop)]["current_version"] == "1.1.0"
    assert cells[("production", shop)]["previous_version"] == "1.0.0"
    assert cells[("production", shop)]["current_deployment_id"] == second["id"]
    assert cells[("production", shop)]["since"] == second["succeeded_at"]
    assert cells[("staging", shop)]["current_version"] == "1.2.0"
    assert cells[("staging", shop)]["previous_version"] is None
    assert cells[("production", portal)]["current_version"] == "3.0.0"  # 3.1.0 failed
    # Rolling back the current deployment hands the environment back to the one before.
    rolled = await api.patch(
        f"/v1/deployments/{second['id']}", json={"status": "rolled_back"}, headers=staff
    )
    assert rolled.status_code == 200, rolled.text
    matrix = (await api.get(f"/v1/clients/{client.client_id}/deployments", headers=staff)).json()
    production = next(r for r in matrix["environments"] if r["environment"] == "production")
    assert {c["product"]: c["current_version"] for c in production["products"]}[shop] == "1.0.0"


async def test_a_succeeded_deployment_emits_release_deployed_with_the_fixed_tickets(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    client = await seed_client(session_factory)
    other = await seed_client(session_factory)
    product = await new_product(api, staff)
    mine = await seed_ticket(session_factory, client.client_id, "Cart empties")
    theirs = await seed_ticket(session_factory, other.client_id, "Not yours")
    later = await seed_ticket(session_factory, client.client_id, "Fixed later")
    for version, tickets in (("2.0.0", [mine, theirs]), ("2.1.0", [later])):
        created = await api.post(
            "/v1/releases",
            json=release_body(product=product, version=version, ticket_ids=tickets),
            headers=staff,
        )
        await api.post(f"/v1/releases/{created.json()['id']}/publish", headers=staff)
    started = await deploy(
        api,
        client.headers,  # a CI pipeline reports with the client's key
        client_id=client.client_id,
        product=product,
        version="2.0.0",
        status="in_progress",
    )
    assert await events_of(session_factory, "release.deployed", started["id"]) == []
    done = await api.patch(
        f"/v1/deployments/{started['id']}", json={"status": "succeeded"}, headers=client.headers
    )
    assert done.status_code == 200
    assert done.json()["release_id"] is not None
    [event] = await events_of(session_factory, "release.deployed", started["id"])
    assert event.data["fixed_ticket_ids"] == [mine]  # not the other client's, not 2.1.0's
    assert event.data["environment"] == "production"
    assert event.clientid == client.client_id
    refused = await api.patch(
        f"/v1/deployments/{started['id']}", json={"status": "failed"}, headers=staff
    )
    assert refused.status_code == 409
    assert refused.json()["type"] == "https://aftercare.dev/problems/deployment-transition"


async def test_bad_deployments_are_refused(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    client = await seed_client(session_factory)
    product = await new_product(api, staff)
    body = {"client_id": client.client_id, "environment": "production", "product": product}
    unknown = await api.post(
        "/v1/deployments",
        json={**body, "product": "never-registered", "version": "1.0.0"},
        headers=staff,
    )
    assert unknown.status_code == 422
    assert unknown.json()["type"] == "https://aftercare.dev/problems/unknown-product"
    for bad in ({"version": "1.0"}, {"version": "1.0.0", "environment": "prod env"}):
        answer = await api.post(
            "/v1/deployments", json={**body, "version": "1.0.0", **bad}, headers=staff
        )
        assert answer.status_code == 422, bad


async def test_a_client_key_sees_and_reports_only_its_own_deployments(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    alpha, beta = await seed_client(session_factory), await seed_client(session_factory)
    product = await new_product(api, staff)
    betas = await deploy(api, staff, client_id=beta.client_id, product=product, version="1.0.0")
    for path in (
        f"/v1/deployments/{betas['id']}",
        f"/v1/clients/{beta.client_id}/deployments",
        f"/v1/clients/{beta.client_id}/exposure",
        f"/v1/clients/{beta.client_id}/changelog",
    ):
        answer = await api.get(path, headers=alpha.headers)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"
    forged = await api.post(
        "/v1/deployments",
        json={
            "client_id": beta.client_id,
            "environment": "production",
            "product": product,
            "version": "9.9.9",
        },
        headers=alpha.headers,
    )
    assert forged.status_code == 404
    patched = await api.patch(
        f"/v1/deployments/{betas['id']}", json={"status": "rolled_back"}, headers=alpha.headers
    )
    assert patched.status_code == 404
    sbom = await api.put(
        f"/v1/deployments/{betas['id']}/sbom",
        content=json.dumps(cyclonedx("pkg:npm/lodash@4.17.20")),
        headers=alpha.headers,
    )
    assert sbom.status_code == 404
    own = await api.get(f"/v1/clients/{beta.client_id}/deployments", headers=beta.headers)
    assert own.status_code == 200
    assert (await api.get("/v1/advisories/whatever", headers=beta.headers)).status_code == 403


@pytest.mark.parametrize("spec_version", ["1.4", "1.5", "1.6"])
async def test_an_sbom_keeps_components_by_purl(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
    spec_version: str,
) -> None:
    client = await seed_client(session_factory)
    product = await new_product(api, staff)
    deployment = await deploy(
        api, staff, client_id=client.client_id, product=product, version="1.0.0"
    )
    document = cyclonedx(
        "pkg:pypi/Jinja2@3.1.2",
        "pkg:npm/%40angular/core@16.0.0",
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        spec_version=spec_version,
    )
    document["components"].append({"type": "library", "name": "no-purl", "version": "1"})
    answer = await api.put(
        f"/v1/deployments/{deployment['id']}/sbom",
        content=json.dumps(document),
        headers={**client.headers, "content-type": "application/vnd.cyclonedx+json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "deployment_id": deployment["id"],
        "sbom_format": f"CycloneDX {spec_version}",
        "components": 3,
    }
    async with session_factory() as session:
        rows = (
            await session.execute(
                SbomComponent.__table__.select().where(
                    SbomComponent.deployment_id == deployment["id"]
                )
            )
        ).all()
    assert {row.package for row in rows} == {
        "pypi//jinja2",
        "npm/@angular/core",
        "maven/org.apache.logging.log4j/log4j-core",
    }


async def test_a_bad_or_oversized_sbom_is_refused_and_nothing_is_stored(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
    releases_app: object,
) -> None:
    client = await seed_client(session_factory)
    product = await new_product(api, staff)
    deployment = await deploy(
        api, staff, client_id=client.client_id, product=product, version="1.0.0"
    )
    path = f"/v1/deployments/{deployment['id']}/sbom"
    bad_documents = [
        b"not json",
        json.dumps({"bomFormat": "SPDX", "specVersion": "1.5"}).encode(),
        json.dumps({**cyclonedx("pkg:npm/a@1.0.0"), "specVersion": "1.2"}).encode(),
        json.dumps({**cyclonedx(), "components": [{"type": "nonsense", "name": "x"}]}).encode(),
    ]
    for document in bad_documents:
        answer = await api.put(path, content=document, headers=staff)
        assert answer.status_code == 422, document
        assert answer.json()["type"] == "https://aftercare.dev/problems/invalid-sbom"
    # Over the component limit (RELEASES_SBOM_MAX_COMPONENTS, here 2): 413, nothing kept.
    three = json.dumps(cyclonedx(*(f"pkg:npm/p{n}@1.0.0" for n in range(3)))).encode()
    async with session_factory() as session:
        with pytest.raises(SbomTooLargeError) as refused:
            await patch_use_cases.put_sbom(
                session=session,
                scope=None,
                deployment_id=deployment["id"],
                document=three,
                max_components=2,
            )
    assert refused.value.status == 413
    # Over the body limit: 413 before anything is read.
    huge = b'{"bomFormat":"CycloneDX","specVersion":"1.5","padding":"' + b"x" * 2_000_000 + b'"}'
    assert (await api.put(path, content=huge, headers=staff)).status_code == 413
    async with session_factory() as session:
        stored = await session.get(Deployment, deployment["id"])
        assert stored is not None
        assert stored.sbom_uploaded_at is None
        count = (
            await session.execute(
                SbomComponent.__table__.select().where(
                    SbomComponent.deployment_id == deployment["id"]
                )
            )
        ).all()
    assert count == []
    assert (
        await api.put(f"/v1/deployments/{uuid.uuid4()}/sbom", content=b"{}", headers=staff)
    ).status_code == 404
