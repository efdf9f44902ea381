"""Occurrences, coalesced announcements, merge and unmerge with history, and regressions that
know versions — intake on a real database, events read from its outbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ReleasePublished
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from tests.integration.intake.intake_support import (
    STAFF,
    IngestClient,
    deliver,
    envelope_of,
    ingest_client,
    intake_api,
    outbox_events,
    send_envelope,
    sentry_event,
)
from tests.support.infra import wait_until


def _event_in(function: str, **fields: Any) -> dict[str, Any]:
    """An exception event whose in-app frame is ``function``: one fingerprint per function."""
    event = sentry_event(**fields)
    event["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] = function
    return event


async def _send(api: httpx.AsyncClient, ingest: IngestClient, *events: dict[str, Any]) -> None:
    for event in events:
        answer = await send_envelope(api, ingest, envelope_of(event))
        assert answer.status_code == 200, answer.text


async def _ticket(api: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _only_ticket(api: httpx.AsyncClient, client_id: str) -> dict[str, Any]:
    tickets = (await api.get("/v1/tickets", params={"client_id": client_id}, headers=STAFF)).json()
    assert len(tickets["items"]) == 1, tickets
    ticket: dict[str, Any] = tickets["items"][0]
    return ticket


async def _tickets_by_function(api: httpx.AsyncClient, client_id: str) -> dict[str, str]:
    """Ticket ids by the function name their title does not show: by their first sample."""
    found: dict[str, str] = {}
    tickets = (await api.get("/v1/tickets", params={"client_id": client_id}, headers=STAFF)).json()
    for ticket in tickets["items"]:
        samples = (await api.get(f"/v1/tickets/{ticket['id']}/occurrences", headers=STAFF)).json()
        frames = samples["items"][-1]["details"]["exceptions"][0]["frames"]
        found[frames[0]["function"]] = ticket["id"]
    return found


def _types(events: list[CloudEvent], ticket_id: str) -> list[str]:
    return [event.short_type for event in events if event.subject == ticket_id]


# --- occurrences --------------------------------------------------------------------------------


async def test_counts_are_exact_and_details_kept_for_the_first_and_the_latest(
    database_url: str,
) -> None:
    async with intake_api(database_url, occurrence_samples=3) as api:
        ingest = await ingest_client(api)
        releases = ["shop@1.0.0"] * 4 + ["shop@1.1.0"] * 6
        environments = ["production", "staging"] * 5
        await _send(
            api,
            ingest,
            *(
                sentry_event(release=release, environment=environment)
                for release, environment in zip(releases, environments, strict=True)
            ),
        )
        ticket = await _only_ticket(api, ingest.client_id)
        assert ticket["occurrences"] == 10
        assert {r["name"]: r["occurrences"] for r in ticket["releases"]} == {
            "shop@1.0.0": 4,
            "shop@1.1.0": 6,
        }
        assert {e["name"]: e["occurrences"] for e in ticket["environments"]} == {
            "production": 5,
            "staging": 5,
        }
        assert ticket["first_seen_at"] < ticket["last_seen_at"]

        pages: list[list[int]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (
                await api.get(
                    f"/v1/tickets/{ticket['id']}/occurrences", params=params, headers=STAFF
                )
            ).json()
            pages.append([item["number"] for item in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [[10, 9], [8, 1]]  # newest first: the latest three, then the first
        bad = await api.get(
            f"/v1/tickets/{ticket['id']}/occurrences", params={"cursor": "nope"}, headers=STAFF
        )
        assert bad.json()["errors"][0]["kind"] == "invalid_cursor"


async def test_a_client_key_sees_only_its_own_tickets_occurrences(database_url: str) -> None:
    async with intake_api(database_url) as api:
        mine = await ingest_client(api, "Mine", scope="client")
        theirs = await ingest_client(api, "Theirs", scope="client")
        await _send(api, mine, sentry_event())
        ticket = await _only_ticket(api, mine.client_id)
        path = f"/v1/tickets/{ticket['id']}/occurrences"
        assert (
            await api.get(path, headers={"Authorization": f"Bearer {mine.key}"})
        ).status_code == 200
        other = await api.get(path, headers={"Authorization": f"Bearer {theirs.key}"})
        assert other.status_code == 404


async def test_ticket_occurred_is_coalesced_and_carries_the_count_since_the_last_one(
    database_url: str,
) -> None:
    async with intake_api(database_url, occurrence_event_interval_seconds=1.0) as api:
        ingest = await ingest_client(api)
        await _send(api, ingest, *(sentry_event() for _ in range(8)))
        ticket = await _only_ticket(api, ingest.client_id)
        created = [e for e in await outbox_events(database_url) if e.subject == ticket["id"]]
        assert [e.short_type for e in created] == ["ticket.created"]  # the storm so far: quiet

        async def tail_announced() -> bool:
            return "ticket.occurred" in _types(await outbox_events(database_url), ticket["id"])

        # The periodic job announces the storm's tail once the interval has passed.
        await wait_until(tail_announced, within=10, message="the coalesced ticket.occurred")
        occurred = [
            e for e in await outbox_events(database_url) if e.short_type == "ticket.occurred"
        ]
        assert len(occurred) == 1
        assert occurred[0].data["occurrences"] == 8
        assert occurred[0].data["new_occurrences"] == 7
        assert occurred[0].data["since"] == created[0].data["created_at"]

        await asyncio.sleep(1.1)  # quiet for an interval: the next one is told at once
        await _send(api, ingest, sentry_event())
        occurred = [
            e for e in await outbox_events(database_url) if e.short_type == "ticket.occurred"
        ]
        assert [(e.data["occurrences"], e.data["new_occurrences"]) for e in occurred] == [
            (8, 7),
            (9, 1),
        ]


# --- merge, unmerge, history --------------------------------------------------------------------


async def test_merge_folds_tickets_and_unmerge_splits_a_fingerprint_back_out(
    database_url: str,
) -> None:
    async with intake_api(database_url) as api:
        ingest = await ingest_client(api)
        await _send(api, ingest, *(_event_in("pay") for _ in range(3)))
        await _send(api, ingest, *(_event_in("charge") for _ in range(2)))
        await _send(api, ingest, _event_in("refund"))
        by_function = await _tickets_by_function(api, ingest.client_id)
        target, charge, refund = by_function["pay"], by_function["charge"], by_function["refund"]

        merged = await api.post(
            f"/v1/tickets/{target}/merge", json={"ticket_ids": [charge, refund]}, headers=STAFF
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["occurrences"] == 6
        assert len(merged.json()["fingerprints"]) == 3
        for folded in (charge, refund):
            view = await _ticket(api, folded)
            assert (view["status"], view["close_reason"], view["merged_into_ticket_id"]) == (
                "closed",
                "merged",
                target,
            )
        # The folded fingerprints now route here.
        await _send(api, ingest, _event_in("charge"))
        assert (await _ticket(api, target))["occurrences"] == 7
        assert (await _ticket(api, charge))["occurrences"] == 2
        occurrences = (await api.get(f"/v1/tickets/{target}/occurrences", headers=STAFF)).json()
        assert len(occurrences["items"]) == 7  # every sample of the three fingerprints

        charge_fingerprint = (await _ticket(api, charge))["fingerprint"]
        split = await api.post(
            f"/v1/tickets/{target}/unmerge", json={"fingerprint": charge_fingerprint}, headers=STAFF
        )
        assert split.status_code == 201, split.text
        new = split.json()
        assert (new["status"], new["occurrences"], new["fingerprint"]) == (
            "new",
            3,
            charge_fingerprint,
        )
        assert (await _ticket(api, target))["occurrences"] == 4
        await _send(api, ingest, _event_in("charge"))
        assert (await _ticket(api, new["id"]))["occurrences"] == 4

        history = (await api.get(f"/v1/tickets/{target}/history", headers=STAFF)).json()["items"]
        assert [(h["action"], h["actor"]) for h in history] == [
            ("merged", "admin"),
            ("unmerged", "admin"),
        ]
        assert history[0]["details"] == {"ticket_ids": [charge, refund], "occurrences_added": 3}
        assert history[1]["details"]["ticket_id"] == new["id"]
        split_history = (await api.get(f"/v1/tickets/{new['id']}/history", headers=STAFF)).json()
        assert [h["action"] for h in split_history["items"]] == ["split_from"]

        events = await outbox_events(database_url)
        assert _types(events, target)[-1] == "ticket.merged"
        closed = [e for e in events if e.short_type == "ticket.closed"]
        assert {(e.subject, e.data["reason"], e.data["merged_into_ticket_id"]) for e in closed} == {
            (charge, "merged", target),
            (refund, "merged", target),
        }
        created = [e for e in events if e.short_type == "ticket.created" and e.subject == new["id"]]
        assert created[0].data["split_from_ticket_id"] == target


async def test_merges_that_make_no_sense_are_refused_and_change_nothing(
    database_url: str,
) -> None:
    async with intake_api(database_url) as api:
        ingest = await ingest_client(api, "A", scope="client")
        other = await ingest_client(api, "B")
        await _send(api, ingest, _event_in("pay"), _event_in("charge"))
        await _send(api, other, _event_in("pay"))
        mine = await _tickets_by_function(api, ingest.client_id)
        theirs = await _tickets_by_function(api, other.client_id)
        pay, charge = mine["pay"], mine["charge"]

        async def merge(
            target: str, ids: list[str], headers: dict[str, str] = STAFF
        ) -> httpx.Response:
            return await api.post(
                f"/v1/tickets/{target}/merge", json={"ticket_ids": ids}, headers=headers
            )

        assert (await merge(pay, [pay])).json()["type"] == PROBLEM_BASE_URI + "merge-not-allowed"
        foreign = await merge(pay, [theirs["pay"]])
        assert foreign.status_code == 409
        assert foreign.json()["other_client_ticket_ids"] == [theirs["pay"]]
        unknown = await merge(pay, [str(uuid.uuid4())])
        assert unknown.status_code == 409
        assert "unknown_ticket_ids" in unknown.json()
        assert (await merge(str(uuid.uuid4()), [pay])).status_code == 404
        assert (await merge(pay, [charge, charge])).status_code == 422
        client_key = {"Authorization": f"Bearer {ingest.key}"}
        assert (await merge(pay, [charge], client_key)).status_code == 403
        assert (await _ticket(api, pay))["occurrences"] == 1

        assert (await merge(pay, [charge])).status_code == 200
        again = await merge(pay, [charge])
        assert again.json()["merged_ticket_ids"] == [charge]
        into_merged = await merge(charge, [pay])
        assert into_merged.status_code == 409
        reopen = await api.patch(f"/v1/tickets/{charge}", json={"status": "triaged"}, headers=STAFF)
        assert reopen.status_code == 409
        own = await api.post(
            f"/v1/tickets/{pay}/unmerge",
            json={"fingerprint": (await _ticket(api, pay))["fingerprint"]},
            headers=STAFF,
        )
        assert own.json()["type"] == PROBLEM_BASE_URI + "unmerge-not-allowed"
        stranger = await api.post(
            f"/v1/tickets/{pay}/unmerge", json={"fingerprint": "no-such"}, headers=STAFF
        )
        assert stranger.status_code == 409
        assert (await _ticket(api, pay))["occurrences"] == 2


async def test_history_records_who_changed_status_and_priority_and_why_it_reopened(
    database_url: str,
) -> None:
    async with intake_api(database_url) as api:
        ingest = await ingest_client(api)
        await _send(api, ingest, sentry_event())
        ticket_id = (await _only_ticket(api, ingest.client_id))["id"]
        token = (
            await api.post("/v1/staff-tokens", json={"subject": "alice"}, headers=STAFF)
        ).json()["token"]
        alice = {"Authorization": f"Bearer {token}"}
        for change in ({"status": "in_progress", "priority": "P1"}, {"status": "resolved"}):
            answer = await api.patch(f"/v1/tickets/{ticket_id}", json=change, headers=alice)
            assert answer.status_code == 200, answer.text
        await api.patch(f"/v1/tickets/{ticket_id}", json={"status": "triaged"}, headers=STAFF)

        history = (await api.get(f"/v1/tickets/{ticket_id}/history", headers=STAFF)).json()
        entries = [(h["action"], h["actor"], h["details"]) for h in history["items"]]
        # One PATCH changing both: two entries of the same instant, in either order.
        assert history["items"][0]["created_at"] == history["items"][1]["created_at"]
        assert sorted(entries[:2], key=str) == sorted(
            [
                ("status_changed", "alice", {"from": "new", "to": "in_progress"}),
                ("priority_changed", "alice", {"from": "P2", "to": "P1"}),
            ],
            key=str,
        )
        assert entries[2:] == [
            ("status_changed", "alice", {"from": "in_progress", "to": "resolved"}),
            ("reopened", "admin", {"from": "resolved", "to": "triaged", "reason": "manual"}),
        ]
        reopened = [
            e for e in await outbox_events(database_url) if e.short_type == "ticket.reopened"
        ]
        assert reopened[0].data["reason"] == "manual"


# --- regressions that know versions ---------------------------------------------------------------


def _published(ticket_ids: list[str], version: str) -> CloudEvent:
    release_id = f"r-{uuid.uuid4()}"
    payload = ReleasePublished(
        release_id=release_id,
        product="shop",
        version=version,
        kind="bugfix",
        ticket_ids=ticket_ids,
        published_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    )
    return new_event(payload, service=ServiceName.RELEASES, subject=release_id)


async def test_a_fixed_bug_reopens_only_from_the_fixed_version_on(database_url: str) -> None:
    async with intake_api(database_url) as api:
        ingest = await ingest_client(api)
        await _send(api, ingest, sentry_event(release="shop@1.4.0"))
        ticket_id = (await _only_ticket(api, ingest.client_id))["id"]
        await deliver(database_url, _published([ticket_id], "1.5.0"))
        fixed = await _ticket(api, ticket_id)
        assert fixed["status"] == "resolved"
        assert (fixed["fixed_in"]["product"], fixed["fixed_in"]["version"]) == ("shop", "1.5.0")

        # Old deployments still running: counted, not reopened.
        await _send(
            api,
            ingest,
            sentry_event(release="shop@1.4.2"),
            sentry_event(release="shop@1.5.0-rc.1"),
        )
        still = await _ticket(api, ticket_id)
        assert (still["status"], still["occurrences"], still["regression"]) == ("resolved", 3, None)

        answer = await send_envelope(api, ingest, envelope_of(sentry_event(release="shop@1.5.0")))
        assert answer.status_code == 200
        reopened = await _ticket(api, ticket_id)
        assert (reopened["status"], reopened["occurrences"]) == ("triaged", 4)
        assert reopened["regression"]["release"] == "shop@1.5.0"
        assert reopened["resolved_at"] is None

        events = [e for e in await outbox_events(database_url) if e.subject == ticket_id]
        assert [e.short_type for e in events] == [
            "ticket.created",
            "ticket.resolved",
            "ticket.reopened",
        ]
        assert events[-1].data["reason"] == "regression"
        assert events[-1].data["release"] == "shop@1.5.0"
        assert events[-1].data["fixed_in"] == "shop@1.5.0"
        assert events[-1].data["status"] == "triaged"
        history = (await api.get(f"/v1/tickets/{ticket_id}/history", headers=STAFF)).json()
        assert [(h["action"], h["details"].get("reason")) for h in history["items"]] == [
            ("resolved", None),
            ("reopened", "regression"),
        ]
        assert history["items"][1]["actor"] == "intake"


async def test_without_version_information_a_recurrence_reopens(database_url: str) -> None:
    async with intake_api(database_url) as api:
        ingest = await ingest_client(api)
        await _send(api, ingest, sentry_event(release="shop@2.0.0"))
        ticket_id = (await _only_ticket(api, ingest.client_id))["id"]
        await api.patch(f"/v1/tickets/{ticket_id}", json={"status": "resolved"}, headers=STAFF)
        # Resolved by hand: no fix version, so even an old release reopens it.
        no_release = sentry_event()
        del no_release["release"]
        await _send(api, ingest, no_release)
        assert (await _ticket(api, ticket_id))["status"] == "triaged"

        await api.patch(f"/v1/tickets/{ticket_id}", json={"status": "resolved"}, headers=STAFF)
        await deliver(database_url, _published([ticket_id], "2.1.0"))
        assert (await _ticket(api, ticket_id))["fixed_in"]["version"] == "2.1.0"
        await _send(api, ingest, sentry_event(release="shop@4c1a9f2e"))  # a commit, no version
        assert (await _ticket(api, ticket_id))["status"] == "triaged"


async def test_a_rest_report_of_a_fixed_bug_follows_the_same_rule(database_url: str) -> None:
    async with intake_api(database_url) as api:
        ingest = await ingest_client(api, scope="client")
        auth = {"Authorization": f"Bearer {ingest.key}"}
        report = {"title": "Checkout 500", "severity": "high", "fingerprint": "checkout-500"}
        first = await api.post(
            "/v1/reports", json={**report, "release": "shop@3.0.0"}, headers=auth
        )
        ticket_id = first.json()["ticket_id"]
        await deliver(database_url, _published([ticket_id], "3.1.0"))
        old = await api.post("/v1/reports", json={**report, "release": "shop@3.0.1"}, headers=auth)
        assert (old.status_code, old.json()["status"], old.json()["ticket_id"]) == (
            200,
            "resolved",
            ticket_id,
        )
        new = await api.post("/v1/reports", json={**report, "release": "shop@3.1.0"}, headers=auth)
        assert (new.status_code, new.json()["status"], new.json()["occurrences"]) == (
            200,
            "triaged",
            3,
        )
