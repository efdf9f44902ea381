"""intake's side of patch management: security tickets from advisories, patched, rollback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from aftercare_intake.consumers import handlers
from aftercare_intake.patch_tickets import advisory_priority
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    AdvisoryMatched,
    AdvisoryPatched,
    ReleasePublished,
    ReleaseRolledBack,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from tests.integration.intake.intake_support import (
    STAFF,
    client_with_key,
    outbox_events,
    report,
    sessions,
)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _deliver(database_url: str, event: CloudEvent) -> None:
    async with (
        sessions(database_url) as session_factory,
        session_factory() as session,
        session.begin(),
    ):
        await handlers(session, event)


def _matched(advisory_id: str, client_id: str, environment: str, **fields: Any) -> CloudEvent:
    payload = AdvisoryMatched(
        advisory_id=advisory_id,
        aliases=["CVE-2026-0001"],
        summary="Template injection",
        client_id=client_id,
        environment=environment,
        component_purl="pkg:pypi/jinja2@3.1.2",
        installed_version="3.1.2",
        fixed_versions=["3.1.3"],
        matched_at=AT,
        **fields,
    )
    return new_event(
        payload, service=ServiceName.RELEASES, subject=advisory_id, client_id=client_id
    )


async def _tickets(api: httpx.AsyncClient, client_id: str) -> list[dict[str, Any]]:
    page = await api.get("/v1/tickets", params={"client_id": client_id}, headers=STAFF)
    items: list[dict[str, Any]] = page.json()["items"]
    return items


@pytest.mark.parametrize(
    ("score", "severity", "priority"),
    [
        (9.8, None, "P1"),
        (9.0, "LOW", "P1"),
        (8.9, None, "P2"),
        (7.0, None, "P2"),
        (6.5, "CRITICAL", "P3"),
        (4.0, None, "P3"),
        (3.9, None, "P4"),
        (0.0, None, "P4"),
        (None, "CRITICAL", "P1"),
        (None, "HIGH", "P2"),
        (None, "MODERATE", "P3"),
        (None, "low", "P4"),
        (None, None, "P2"),
        (None, "unheard-of", "P2"),
    ],
)
def test_the_priority_comes_from_cvss_then_the_stated_severity_else_p2(
    score: float | None, severity: str | None, priority: str
) -> None:
    assert advisory_priority(score, severity) == priority


async def test_one_security_ticket_per_client_and_advisory_then_resolved_when_patched(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    advisory_id = f"GHSA-{uuid.uuid4().hex[:8]}"
    first = _matched(advisory_id, client_id, "production", cvss_score=9.8)
    await _deliver(database_url, first)
    await _deliver(database_url, _matched(advisory_id, client_id, "staging", cvss_score=9.8))
    [ticket] = [t for t in await _tickets(api, client_id) if t["kind"] == "security"]
    assert ticket["priority"] == "P1"
    assert ticket["severity"] == "critical"
    assert ticket["fingerprint"] == f"advisory:{advisory_id}"
    assert ticket["occurrences"] == 2  # two affected environments, one ticket
    assert advisory_id in ticket["title"]
    created = [
        e
        for e in await outbox_events(database_url)
        if e.type == "aftercare.ticket.created.v1" and e.subject == ticket["id"]
    ]
    assert len(created) == 1
    assert created[0].data["kind"] == "security"
    # The client sees its security ticket with its own key.
    own = await api.get(f"/v1/tickets/{ticket['id']}", headers={"Authorization": f"Bearer {key}"})
    assert own.status_code == 200

    deployment_id = str(uuid.uuid4())
    patched = AdvisoryPatched(
        advisory_id=advisory_id, client_id=client_id, deployment_id=deployment_id, patched_at=AT
    )
    await _deliver(
        database_url,
        new_event(patched, service=ServiceName.RELEASES, subject=advisory_id, client_id=client_id),
    )
    shown = (await api.get(f"/v1/tickets/{ticket['id']}", headers=STAFF)).json()
    assert shown["status"] == "resolved"
    [resolved] = [
        e
        for e in await outbox_events(database_url)
        if e.type == "aftercare.ticket.resolved.v1" and e.subject == ticket["id"]
    ]
    assert resolved.data["resolution"] == "patched"
    assert resolved.data["deployment_id"] == deployment_id
    # Exposed again later (a rollback to a vulnerable version): still one ticket per client
    # and advisory, reopened as a regression, its SLA running again.
    await _deliver(database_url, _matched(advisory_id, client_id, "production", severity="LOW"))
    [again] = [t for t in await _tickets(api, client_id) if t["kind"] == "security"]
    assert again["id"] == ticket["id"]
    assert again["status"] == "triaged"
    assert again["occurrences"] == 3
    [reopened] = [
        e
        for e in await outbox_events(database_url)
        if e.type == "aftercare.ticket.reopened.v1" and e.subject == ticket["id"]
    ]
    assert reopened.data["reason"] == "regression"


async def test_a_match_for_a_client_intake_does_not_know_opens_nothing(
    api: httpx.AsyncClient, database_url: str
) -> None:
    stranger = str(uuid.uuid4())
    await _deliver(database_url, _matched("GHSA-none", stranger, "production"))
    assert await _tickets(api, stranger) == []


async def test_a_rollback_reopens_what_the_release_resolved_with_reason_rollback(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    fixed, elsewhere = await report(api, key, "bug A"), await report(api, key, "bug B")
    release_id, other_release = str(uuid.uuid4()), str(uuid.uuid4())
    for rid, tickets in ((release_id, [fixed]), (other_release, [elsewhere])):
        published = ReleasePublished(
            release_id=rid,
            product="shop",
            version="1.0.0",
            kind="bugfix",
            ticket_ids=tickets,
            published_at=AT,
        )
        await _deliver(
            database_url, new_event(published, service=ServiceName.RELEASES, subject=rid)
        )
    rolled = ReleaseRolledBack(
        release_id=release_id,
        product="shop",
        version="1.0.0",
        reason="payments broke",
        ticket_ids=[fixed, elsewhere],  # elsewhere was resolved by another release
        rolled_back_at=AT,
    )
    await _deliver(
        database_url, new_event(rolled, service=ServiceName.RELEASES, subject=release_id)
    )
    assert (await api.get(f"/v1/tickets/{fixed}", headers=STAFF)).json()["status"] == "triaged"
    assert (await api.get(f"/v1/tickets/{elsewhere}", headers=STAFF)).json()["status"] == (
        "resolved"
    )
    [reopened] = [
        e
        for e in await outbox_events(database_url)
        if e.type == "aftercare.ticket.reopened.v1" and e.subject == fixed
    ]
    assert reopened.data["reason"] == "rollback"
    assert reopened.data["status"] == "triaged"
