"""Resolution on deploy: the client's plan decides when a fixed ticket counts as resolved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from aftercare_intake.consumers import handlers
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    EventPayload,
    ReleaseDeployed,
    ReleasePublished,
    ReleaseRolledBack,
    ResolutionOn,
    SlaClientPlanAssigned,
    SlaClientPlanUnassigned,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from tests.integration.intake.intake_support import STAFF, outbox_events, report, sessions
from tests.integration.intake.intake_support import client_with_key as new_client

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _deliver(database_url: str, payload: EventPayload, *, service: ServiceName) -> None:
    event: CloudEvent = new_event(payload, service=service, subject=str(uuid.uuid4()))
    async with (
        sessions(database_url) as session_factory,
        session_factory() as session,
        session.begin(),
    ):
        await handlers(session, event)


async def _plan(
    database_url: str, client_id: str, resolution_on: ResolutionOn | None, *, at: datetime = AT
) -> None:
    fields: dict[str, Any] = {} if resolution_on is None else {"resolution_on": resolution_on}
    assigned = SlaClientPlanAssigned(
        client_id=client_id, plan_id=str(uuid.uuid4()), calendar=None, assigned_at=at, **fields
    )
    await _deliver(database_url, assigned, service=ServiceName.SLA)


async def _publish(database_url: str, release_id: str, ticket_ids: list[str]) -> None:
    published = ReleasePublished(
        release_id=release_id,
        product="shop",
        version="1.2.0",
        kind="bugfix",
        ticket_ids=ticket_ids,
        published_at=AT,
    )
    await _deliver(database_url, published, service=ServiceName.RELEASES)


async def _deploy(
    database_url: str, client_id: str, environment: str, fixed: list[str], *, release_id: str
) -> str:
    deployment_id = str(uuid.uuid4())
    deployed = ReleaseDeployed(
        deployment_id=deployment_id,
        client_id=client_id,
        environment=environment,
        product="shop",
        version="1.3.0",  # a later version than the fixing release: it carries the fix
        release_id=release_id,
        deployed_at=AT + timedelta(hours=2),
        fixed_ticket_ids=fixed,
    )
    await _deliver(database_url, deployed, service=ServiceName.RELEASES)
    return deployment_id


async def _ticket(api: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _resolutions(database_url: str, ticket_id: str) -> list[dict[str, Any]]:
    return [
        event.data
        for event in await outbox_events(database_url)
        if event.type == "aftercare.ticket.resolved.v1" and event.subject == ticket_id
    ]


async def test_release_mode_resolves_on_publication_whatever_is_deployed(
    api: httpx.AsyncClient, database_url: str
) -> None:
    for resolution_on in (None, "release"):  # no plan known yet, and a plan saying so
        client_id, key = await new_client(api)
        if resolution_on is not None:
            await _plan(database_url, client_id, "release")
        ticket_id = await report(api, key, f"bug {uuid.uuid4()}")
        release_id = str(uuid.uuid4())
        await _publish(database_url, release_id, [ticket_id])
        shown = await _ticket(api, ticket_id)
        assert shown["status"] == "resolved"
        assert shown["resolved_by_release_id"] == release_id
        assert shown["fix_status"] is None
        [resolved] = await _resolutions(database_url, ticket_id)
        assert resolved["resolution"] == "released"
        # A later deployment resolves nothing twice.
        await _deploy(database_url, client_id, "production", [ticket_id], release_id=release_id)
        assert len(await _resolutions(database_url, ticket_id)) == 1


async def test_deploy_mode_waits_for_a_succeeded_deployment_to_the_plans_environment(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await new_client(api)
    await _plan(database_url, client_id, "deploy")
    ticket_id = await report(api, key, f"bug {uuid.uuid4()}")
    release_id = str(uuid.uuid4())

    await _publish(database_url, release_id, [ticket_id])
    waiting = await _ticket(api, ticket_id)
    assert waiting["status"] == "new"  # still open: the resolution clock keeps running
    assert waiting["fix_status"] == "awaiting_deploy"
    assert waiting["fix_release_id"] == release_id
    assert waiting["resolved_at"] is None
    assert await _resolutions(database_url, ticket_id) == []

    await _deploy(database_url, client_id, "staging", [ticket_id], release_id=release_id)
    assert (await _ticket(api, ticket_id))["fix_status"] == "awaiting_deploy"
    assert await _resolutions(database_url, ticket_id) == []

    deployment_id = await _deploy(
        database_url, client_id, "production", [ticket_id], release_id=release_id
    )
    shown = await _ticket(api, ticket_id)
    assert shown["status"] == "resolved"
    assert shown["fix_status"] is None
    assert shown["resolved_by_release_id"] == release_id
    assert shown["resolved_at"] == (AT + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    [resolved] = await _resolutions(database_url, ticket_id)
    assert resolved["resolution"] == "deployed"
    assert resolved["deployment_id"] == deployment_id
    assert resolved["release_id"] == release_id


async def test_deploy_mode_resolves_only_the_clients_own_awaiting_tickets(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await new_client(api)
    other_id, other_key = await new_client(api, "Other")
    await _plan(database_url, client_id, "deploy")
    await _plan(database_url, other_id, "deploy")
    mine, never_released = await report(api, key, "a"), await report(api, key, "b")
    theirs = await report(api, other_key, "c")
    await _publish(database_url, str(uuid.uuid4()), [mine, theirs])
    # A deployment event naming tickets of another client or not awaiting resolves neither.
    await _deploy(
        database_url, client_id, "production", [mine, never_released, theirs], release_id="r"
    )
    assert (await _ticket(api, mine))["status"] == "resolved"
    assert (await _ticket(api, never_released))["status"] == "new"
    assert (await _ticket(api, theirs))["fix_status"] == "awaiting_deploy"


async def test_the_latest_plan_wins_and_a_rolled_back_release_stops_the_wait(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await new_client(api)
    await _plan(database_url, client_id, "deploy", at=AT)
    await _plan(database_url, client_id, "release", at=AT - timedelta(days=1))  # arrives late
    ticket_id = await report(api, key, f"bug {uuid.uuid4()}")
    release_id = str(uuid.uuid4())
    await _publish(database_url, release_id, [ticket_id])
    assert (await _ticket(api, ticket_id))["fix_status"] == "awaiting_deploy"

    rolled_back = ReleaseRolledBack(
        release_id=release_id,
        product="shop",
        version="1.2.0",
        reason="broke checkout",
        ticket_ids=[ticket_id],
        rolled_back_at=AT + timedelta(hours=1),
    )
    await _deliver(database_url, rolled_back, service=ServiceName.RELEASES)
    shown = await _ticket(api, ticket_id)
    assert shown["fix_status"] is None
    assert shown["fix_release_id"] is None
    await _deploy(database_url, client_id, "production", [ticket_id], release_id=release_id)
    assert (await _ticket(api, ticket_id))["status"] == "new"


async def test_unassigning_the_plan_brings_back_resolution_on_release(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await new_client(api)
    await _plan(database_url, client_id, "deploy", at=AT)
    # An un-assignment older than the assignment (a replay out of order) changes nothing.
    stale = SlaClientPlanUnassigned(
        client_id=client_id, plan_id="old-plan", unassigned_at=AT - timedelta(hours=1)
    )
    await _deliver(database_url, stale, service=ServiceName.SLA)
    waiting = await report(api, key, f"bug {uuid.uuid4()}")
    await _publish(database_url, str(uuid.uuid4()), [waiting])
    assert (await _ticket(api, waiting))["fix_status"] == "awaiting_deploy"

    unassigned = SlaClientPlanUnassigned(
        client_id=client_id, plan_id="plan", unassigned_at=AT + timedelta(hours=1)
    )
    await _deliver(database_url, unassigned, service=ServiceName.SLA)
    ticket_id = await report(api, key, f"bug {uuid.uuid4()}")
    await _publish(database_url, str(uuid.uuid4()), [ticket_id])
    assert (await _ticket(api, ticket_id))["status"] == "resolved"
