"""Uptime probes against local servers (200, 500, redirect, hanging, resetting, a TLS
certificate about to expire), SSRF refusals, recovery, and two probe runners on one
database probing each due monitor once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aftercare_intake.monitors.probes import Prober, probe_ssl_context
from aftercare_intake.monitors.rounds import probe_round
from aftercare_shared.clock import utc_now
from aftercare_shared.ssrf import parse_allowlist
from aftercare_shared.url_guard import UrlGuard
from tests.integration.intake.intake_support import STAFF, intake_api, sessions
from tests.integration.intake.monitor_support import (
    POLICY,
    QUIET_JOBS,
    monitor,
    monitor_events,
    new_client,
    new_monitor,
    ticket,
)
from tests.integration.intake.probe_targets import Target, expiring_certificate, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LOCAL = parse_allowlist("127.0.0.0/8")


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with intake_api(database_url, **QUIET_JOBS) as client:
        yield client


@pytest.fixture
async def site() -> AsyncIterator[Target]:
    async with serving() as target:
        yield target


def _prober(*, allowlist: Any = LOCAL, ca_bundle: str | None = None) -> Prober:
    return Prober(
        guard=UrlGuard(allowlist=allowlist, dns_timeout_seconds=2),
        ssl_context=probe_ssl_context(ca_bundle),
    )


async def _round(database_url: str, prober: Prober, *, ahead: timedelta = timedelta(0)) -> int:
    async with sessions(database_url) as session_factory:
        return await probe_round(
            session_factory,
            prober=prober,
            now=utc_now() + ahead,
            limit=100,
            concurrency=asyncio.Semaphore(10),
            policy=POLICY,
        )


async def _uptime(
    api: httpx.AsyncClient, client_id: str, slug: str, url: str, **fields: Any
) -> str:
    created = await new_monitor(
        api,
        client_id,
        name=f"Site {slug}",
        slug=slug,
        kind="uptime",
        url=url,
        schedule={"type": "interval", "value": 1, "unit": "minute"},
        **fields,
    )
    monitor_id: str = created["id"]
    return monitor_id


async def _probes(api: httpx.AsyncClient, monitor_id: str) -> list[dict[str, Any]]:
    answer = await api.get(f"/v1/monitors/{monitor_id}/probes", headers=STAFF)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_probes_record_status_latency_and_errors_and_open_incidents(
    api: httpx.AsyncClient, database_url: str, site: Target
) -> None:
    client_id = await new_client(api)
    base = site.base_url
    ids = {
        "ok": await _uptime(api, client_id, "ok", f"{base}/ok", body_contains="healthy"),
        "error": await _uptime(api, client_id, "error", f"{base}/error", priority="P1"),
        "text": await _uptime(api, client_id, "text", f"{base}/ok?x", body_contains="nope"),
        "hang": await _uptime(api, client_id, "hang", f"{base}/hang", timeout_seconds=1),
        "reset": await _uptime(api, client_id, "reset", f"{base}/reset"),
        "redirect": await _uptime(api, client_id, "redirect", f"{base}/redirect"),
        "followed": await _uptime(
            api, client_id, "followed", f"{base}/redirect?f", follow_redirects=True
        ),
        "head": await _uptime(api, client_id, "head", f"{base}/ok?head", method="HEAD"),
    }
    assert await _round(database_url, _prober()) == len(ids)
    seen = {slug: (await _probes(api, monitor_id))[0] for slug, monitor_id in ids.items()}
    outcomes = {slug: (probe["outcome"], probe["status_code"]) for slug, probe in seen.items()}
    assert outcomes == {
        "ok": ("up", 200),
        "error": ("http_status", 500),
        "text": ("body_mismatch", 200),
        "hang": ("timeout", None),
        "reset": ("connection_error", None),
        "redirect": ("http_status", 302),
        "followed": ("up", 200),
        "head": ("up", 200),
    }
    assert all(seen[slug]["latency_ms"] is not None for slug in ("ok", "error", "hang"))
    assert seen["hang"]["error"] == "no answer within 1 s"
    assert seen["error"]["error"] == "HTTP 500, expected 2xx"
    assert seen["reset"]["error"]
    assert site.hits["/ok"] == 2  # the "ok" monitor, and the followed redirect landing there
    assert site.hits["/redirect"] == 1

    failed = {
        event["monitor_id"]: event for event in await monitor_events(database_url, "monitor.failed")
    }
    assert set(failed) == {ids[slug] for slug in ("error", "text", "hang", "reset", "redirect")}
    assert failed[ids["error"]]["reason"] == "http_status"
    assert failed[ids["hang"]]["reason"] == "timeout"
    down = await monitor(api, ids["error"])
    assert down["state"] == "failing"
    opened = await ticket(api, down["open_ticket_id"])
    assert opened["priority"] == "P1"
    assert opened["title"] == "Site error: answered with an unexpected HTTP status"
    assert (await monitor(api, ids["ok"]))["state"] == "ok"

    # The site is fixed (here: the URL changes): the next probe recovers the incident.
    fixed = await api.patch(
        f"/v1/monitors/{ids['error']}", json={"url": f"{base}/ok?fixed"}, headers=STAFF
    )
    assert fixed.status_code == 200, fixed.text
    assert await _round(database_url, _prober()) == 1  # only the changed monitor is due now
    recovered = await monitor(api, ids["error"])
    assert recovered["state"] == "ok"
    assert (await ticket(api, opened["id"]))["status"] == "resolved"
    recoveries = await monitor_events(database_url, "monitor.recovered")
    assert [event["monitor_id"] for event in recoveries] == [ids["error"]]

    # Availability over the last hour counts the probes and the (short) incident.
    now = utc_now()
    report = await api.get(
        f"/v1/monitors/{ids['error']}/uptime",
        params={"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()},
        headers=STAFF,
    )
    assert report.status_code == 200, report.text
    assert report.json()["probes"] == 2
    assert report.json()["probes_up"] == 1
    assert len(report.json()["incidents"]) == 1
    assert 99.0 < report.json()["availability_percent"] < 100.0


async def test_a_certificate_about_to_expire_opens_one_p3_ticket(
    api: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    certificate = expiring_certificate(tmp_path, days_left=3)
    client_id = await new_client(api)
    async with serving(tls=certificate.server_context()) as tls_site:
        monitor_id = await _uptime(api, client_id, "shop", f"{tls_site.base_url}/ok")
        prober = _prober(ca_bundle=str(certificate.certificate_file))
        assert await _round(database_url, prober) == 1
        assert await _round(database_url, prober, ahead=timedelta(minutes=5)) == 1
        untrusted = await _round(database_url, _prober(), ahead=timedelta(minutes=10))
    assert untrusted == 1
    probes = await _probes(api, monitor_id)
    assert [probe["outcome"] for probe in probes] == ["connection_error", "up", "up"]
    assert "CERTIFICATE_VERIFY_FAILED" in probes[0]["error"]
    assert probes[1]["certificate_expires_at"] == certificate.expires_at.isoformat().replace(
        "+00:00", "Z"
    )
    expiring = [
        event
        for event in await monitor_events(database_url, "monitor.failed")
        if event["reason"] == "certificate_expiring"
    ]
    assert len(expiring) == 1  # once per certificate, however often it is probed
    alert = await ticket(api, expiring[0]["ticket_id"])
    assert alert["priority"] == "P3"
    assert alert["kind"] == "incident"
    assert alert["title"].startswith("Site shop: TLS certificate expires on ")


async def test_ssrf_rules_refuse_internal_targets_unless_allowlisted(
    api: httpx.AsyncClient, database_url: str, site: Target
) -> None:
    client_id = await new_client(api)
    for url in ("ftp://example.com/", "http://user:secret@example.com/", "http:///nohost"):
        refused = await api.post(
            "/v1/monitors",
            json={
                "client_id": client_id,
                "name": "x",
                "slug": "x",
                "kind": "uptime",
                "url": url,
                "schedule": {"type": "interval", "value": 1, "unit": "minute"},
            },
            headers=STAFF,
        )
        assert refused.status_code == 422, (url, refused.text)
        assert refused.json()["type"].endswith("/url-refused")
    loopback = await _uptime(api, client_id, "loopback", f"{site.base_url}/ok")
    metadata = await _uptime(api, client_id, "metadata", "http://169.254.169.254/latest/meta-data/")
    assert await _round(database_url, _prober(allowlist=())) == 2
    loopback_probe = (await _probes(api, loopback))[0]
    assert loopback_probe["outcome"] == "connection_error"
    assert "ssrf" in loopback_probe["error"]
    assert "loopback" in loopback_probe["error"]
    metadata_probe = (await _probes(api, metadata))[0]
    assert "cloud metadata" in metadata_probe["error"]
    assert site.hits == {}  # nothing reached the local server


async def test_two_probe_runners_probe_each_due_monitor_once(
    api: httpx.AsyncClient, database_url: str, site: Target
) -> None:
    client_id = await new_client(api)
    monitors = 40
    for number in range(monitors):
        await _uptime(api, client_id, f"site-{number}", f"{site.base_url}/ok/{number}")
    prober = _prober()
    taken = await asyncio.gather(_round(database_url, prober), _round(database_url, prober))
    assert sum(taken) == monitors
    assert sorted(site.hits.values()) == [1] * monitors
    # Each probe's next time is a minute (plus at most 6 s of jitter) after its claim.
    assert await _round(database_url, prober, ahead=timedelta(seconds=30)) == 0
    assert await _round(database_url, prober, ahead=timedelta(seconds=67)) == monitors
    assert sorted(site.hits.values()) == [2] * monitors
