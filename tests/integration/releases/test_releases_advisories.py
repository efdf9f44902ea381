"""OSV advisories matched against own products and SBOM components, per ecosystem."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.releases.patch_support import (
    cyclonedx,
    deploy,
    events_of,
    new_product,
    osv,
    package,
)
from tests.integration.releases.releases_support import seed_client, unique_product

pytestmark = pytest.mark.integration

CRITICAL_V3 = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]


async def publish(
    api: httpx.AsyncClient, staff: dict[str, str], document: dict[str, Any]
) -> httpx.Response:
    answer = await api.post("/v1/advisories", json=document, headers=staff)
    assert answer.status_code in {200, 201}, answer.text
    return answer


def affected_pairs(body: dict[str, Any], key: str = "affected") -> set[tuple[str, str, str]]:
    return {(e["client_id"], e["environment"], e["installed_version"]) for e in body[key]}


async def test_own_product_semver_ranges_introduced_fixed_last_affected_and_versions(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    product = await new_product(api, staff)
    # version → expected affected under: [1.0.0, 1.2.3) or [2.0.0-rc.1, 2.1.0] or {3.0.5}
    table = {
        "0.9.0": False,
        "1.0.0": True,
        "1.2.2": True,
        "1.2.3": False,
        "2.0.0-beta": False,
        "2.0.0-rc.1": True,
        "2.1.0": True,
        "2.1.1": False,
        "3.0.5": True,
        "3.0.6": False,
    }
    clients = {}
    for version in table:
        client = await seed_client(session_factory)
        clients[client.client_id] = version
        await deploy(api, staff, client_id=client.client_id, product=product, version=version)
    advisory_id = f"AC-{unique_product('own')}"
    answer = await publish(
        api,
        staff,
        osv(
            advisory_id,
            package(
                "npm",
                product,
                ("SEMVER", [{"introduced": "1.0.0"}, {"fixed": "1.2.3"}]),
                ("SEMVER", [{"introduced": "2.0.0-rc.1"}, {"last_affected": "2.1.0"}]),
                versions=["3.0.5"],
            ),
            severity=CRITICAL_V3,
        ),
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["cvss_score"] == 9.8
    affected = {exposure["installed_version"] for exposure in body["affected"]}
    assert affected == {version for version, hit in table.items() if hit}
    matched = await events_of(session_factory, "advisory.matched", advisory_id)
    assert {event.data["installed_version"] for event in matched} == affected
    one = next(e for e in matched if e.data["installed_version"] == "1.0.0")
    assert one.data["product"] == product
    assert one.data["fixed_versions"] == ["1.2.3"]
    assert one.data["cvss_score"] == 9.8
    assert one.clientid in clients
    [published] = await events_of(session_factory, "advisory.published", advisory_id)
    assert published.data["affected_clients"] == len(affected)


@pytest.mark.parametrize(
    ("ecosystem", "name", "purl_of", "ranges", "expected"),
    [
        (
            "PyPI",
            "Jinja2",  # PEP 503: matches pkg:pypi/jinja2
            lambda v: f"pkg:pypi/jinja2@{v}",
            [("ECOSYSTEM", [{"introduced": "0"}, {"fixed": "3.1.3"}])],
            {"3.1.2": True, "3.1.3": False, "3.1.3rc1": True, "2.11.3": True, "3.2.0": False},
        ),
        (
            "npm",
            "lodash",
            lambda v: f"pkg:npm/lodash@{v}",
            [
                ("SEMVER", [{"introduced": "4.0.0"}, {"fixed": "4.17.21"}]),
                ("SEMVER", [{"introduced": "0"}, {"last_affected": "3.10.1"}]),
            ],
            {"4.17.20": True, "4.17.21": False, "3.10.1": True, "3.10.2": False},
        ),
        (
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            lambda v: f"pkg:maven/org.apache.logging.log4j/log4j-core@{v}",
            [("ECOSYSTEM", [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}])],
            {"2.14.1": True, "2.15.0": False, "2.0": True, "1.2.17": False},
        ),
    ],
)
async def test_third_party_ranges_per_ecosystem_against_sboms(
    api: httpx.AsyncClient,
    staff: dict[str, str],
    session_factory: async_sessionmaker[AsyncSession],
    ecosystem: str,
    name: str,
    purl_of: Any,
    ranges: list[tuple[str, list[dict[str, str]]]],
    expected: dict[str, bool],
) -> None:
    product = await new_product(api, staff)
    by_client: dict[str, str] = {}
    for version in expected:
        client = await seed_client(session_factory)
        by_client[client.client_id] = version
        deployment = await deploy(
            api, staff, client_id=client.client_id, product=product, version="1.0.0"
        )
        sbom = await api.put(
            f"/v1/deployments/{deployment['id']}/sbom",
            content=json.dumps(cyclonedx(purl_of(version))),
            headers=staff,
        )
        assert sbom.status_code == 200, sbom.text
    advisory_id = f"GHSA-{unique_product('tp')}"
    body = (await publish(api, staff, osv(advisory_id, package(ecosystem, name, *ranges)))).json()
    hits = {by_client[e["client_id"]] for e in body["affected"] if e["client_id"] in by_client}
    assert hits == {version for version, hit in expected.items() if hit}
    matched = await events_of(session_factory, "advisory.matched", advisory_id)
    assert all(event.data["component_purl"] for event in matched)
    assert all(event.data["product"] is None for event in matched)


async def test_a_new_deployment_or_sbom_rematches_and_patching_is_announced_once_per_client(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    client = await seed_client(session_factory)
    product = await new_product(api, staff)
    advisory_id = f"AC-{unique_product('flow')}"
    await publish(
        api,
        staff,
        osv(
            advisory_id,
            package("npm", product, ("SEMVER", [{"introduced": "0"}, {"fixed": "1.1.0"}])),
            package("PyPI", "requests", ("ECOSYSTEM", [{"introduced": "0"}, {"fixed": "2.32.0"}])),
        ),
    )
    # Deployed after the advisory: the new deployment is matched (production and staging).
    prod = await deploy(api, staff, client_id=client.client_id, product=product, version="1.0.0")
    await deploy(
        api,
        staff,
        client_id=client.client_id,
        product=product,
        version="1.0.0",
        environment="staging",
    )
    await api.put(
        f"/v1/deployments/{prod['id']}/sbom",
        content=json.dumps(cyclonedx("pkg:pypi/requests@2.31.0")),
        headers=staff,
    )
    matched = await events_of(session_factory, "advisory.matched", advisory_id)
    assert sorted(e.data["environment"] for e in matched) == ["production", "staging"]
    exposure = (
        await api.get(f"/v1/clients/{client.client_id}/exposure", headers=client.headers)
    ).json()
    production = next(e for e in exposure["environments"] if e["environment"] == "production")
    [open_advisory] = production["advisories"]
    assert {t["target"] for t in open_advisory["targets"]} == {
        f"product:{product}",
        "pypi//requests",
    }

    # Production gets the fixed product but still ships the vulnerable component: still open.
    fixed = await deploy(api, staff, client_id=client.client_id, product=product, version="1.1.0")
    assert await events_of(session_factory, "advisory.patched", advisory_id) == []
    # A new SBOM without the vulnerable version closes production; staging stays affected.
    await api.put(
        f"/v1/deployments/{fixed['id']}/sbom",
        content=json.dumps(cyclonedx("pkg:pypi/requests@2.32.3")),
        headers=staff,
    )
    assert await events_of(session_factory, "advisory.patched", advisory_id) == []
    last = await deploy(
        api,
        staff,
        client_id=client.client_id,
        product=product,
        version="1.2.0",
        environment="staging",
    )
    [patched] = await events_of(session_factory, "advisory.patched", advisory_id)
    assert patched.data["client_id"] == client.client_id
    assert patched.data["deployment_id"] == last["id"]
    shown = (await api.get(f"/v1/advisories/{advisory_id}", headers=staff)).json()
    assert shown["affected"] == []
    assert {(e["environment"], e["patched_by_deployment_id"]) for e in shown["patched"]} >= {
        ("staging", last["id"])
    }
    exposure = (await api.get(f"/v1/clients/{client.client_id}/exposure", headers=staff)).json()
    assert exposure["environments"] == []


async def test_republishing_needs_a_newer_modified_and_withdrawal_clears_matches(
    api: httpx.AsyncClient, staff: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    client = await seed_client(session_factory)
    product = await new_product(api, staff)
    await deploy(api, staff, client_id=client.client_id, product=product, version="1.0.0")
    advisory_id = f"AC-{unique_product('again')}"
    doc = osv(advisory_id, package("npm", product, ("SEMVER", [{"introduced": "0"}])))
    assert (await publish(api, staff, doc)).json()["outcome"] == "created"
    same = await publish(api, staff, doc)
    assert (same.status_code, same.json()["outcome"]) == (200, "unchanged")
    withdrawn = {**doc, "modified": "2026-11-20T00:00:00Z", "withdrawn": "2026-11-20T00:00:00Z"}
    body = (await publish(api, staff, withdrawn)).json()
    assert body["outcome"] == "updated"
    assert body["affected"] == []
    assert len(await events_of(session_factory, "advisory.patched", advisory_id)) == 1


async def test_import_reports_created_updated_unchanged_and_refusals_with_reasons(
    api: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    base = unique_product("imp")
    good = osv(f"GHSA-{base}-1", package("PyPI", "django", ("ECOSYSTEM", [{"introduced": "0"}])))
    documents = [
        good,
        osv(f"GHSA-{base}-2", package("npm", "left-pad", ("SEMVER", [{"introduced": "1.0.0"}]))),
        {"id": f"GHSA-{base}-3"},  # no modified, no affected
        osv(f"GHSA-{base}-4", package("PyPI", "x", ("ECOSYSTEM", [{"fixed": "1.0"}]))),
        osv(f"GHSA-{base}-5", package("npm", "y", ("SEMVER", [{"introduced": "not.a.version"}]))),
        osv(
            f"GHSA-{base}-6",
            package("npm", "z", versions=["1.0.0"]),
            severity=[{"type": "CVSS_V3", "score": "garbage"}],
        ),
        "not an object",
        {**good, "modified": "2026-11-02T00:00:00Z"},
    ]
    answer = await api.post("/v1/advisories/import", json=documents, headers=staff)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["created"] == [f"GHSA-{base}-1", f"GHSA-{base}-2"]
    assert report["updated"] == [f"GHSA-{base}-1"]
    assert [refusal["index"] for refusal in report["refused"]] == [2, 3, 4, 5, 6]
    reasons = [refusal["reason"] for refusal in report["refused"]]
    assert "modified" in reasons[0]
    assert "introduced" in reasons[1]
    assert "not.a.version" in reasons[2]
    assert "CVSS" in reasons[3]
    again = await api.post("/v1/advisories/import", json=[good], headers=staff)
    assert again.json()["unchanged"] == [f"GHSA-{base}-1"]
    one_bad = await api.post("/v1/advisories", json={"id": "x"}, headers=staff)
    assert one_bad.status_code == 422
    assert one_bad.json()["type"] == "https://aftercare.dev/problems/invalid-advisory"
    assert (await api.get(f"/v1/advisories/GHSA-{base}-3", headers=staff)).status_code == 404
