"""The support desk on a real database: the closed set of kinds, tickets opened by hand,
assignment, internal notes no client key ever reads, the status rules replies follow, the
auto-close timer (once, with two workers), and the filtered, searchable, sorted list."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from aftercare_intake import auto_close
from aftercare_intake.jobs import auto_close_job
from aftercare_shared.clock import FrozenClock, use_clock, utc_now
from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import SlaBreached, SlaClockEvent, SlaClockStarted, SlaMet
from aftercare_shared.events.factory import new_event
from tests.integration.intake.intake_support import (
    STAFF,
    client_with_key,
    deliver,
    intake_api,
    outbox_events,
    report,
    sessions,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _staff_token(api: httpx.AsyncClient, subject: str) -> dict[str, str]:
    minted = await api.post("/v1/staff-tokens", json={"subject": subject}, headers=STAFF)
    assert minted.status_code == 201, minted.text
    return _as(minted.json()["token"])


async def _events(database_url: str, ticket_id: str) -> list[CloudEvent]:
    return [event for event in await outbox_events(database_url) if event.subject == ticket_id]


async def _ticket(api: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _open(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = await api.post("/v1/tickets", json={"title": "Help", **body}, headers=headers)
    assert answer.status_code == 201, answer.text
    opened: dict[str, Any] = answer.json()
    return opened


async def _comment(
    api: httpx.AsyncClient, ticket_id: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await api.post(
        f"/v1/tickets/{ticket_id}/comments", json={"body": "Hello", **body}, headers=headers
    )


async def _patch(api: httpx.AsyncClient, ticket_id: str, **body: Any) -> dict[str, Any]:
    answer = await api.patch(f"/v1/tickets/{ticket_id}", json=body, headers=STAFF)
    assert answer.status_code == 200, answer.text
    patched: dict[str, Any] = answer.json()
    return patched


def _problem(answer: httpx.Response, status: int, slug: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == PROBLEM_BASE_URI + slug


# --- kinds ----------------------------------------------------------------------------------


async def test_kinds_are_a_closed_set_everywhere_and_reports_default_to_bug(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Checkout fails")
    assert (await _ticket(api, ticket_id))["kind"] == "bug"
    created = (await _events(database_url, ticket_id))[0]
    assert (created.short_type, created.data["kind"]) == ("ticket.created", "bug")

    unknown_report = await api.post(
        "/v1/reports",
        json={"title": "x", "severity": "low", "kind": "KeyError"},
        headers=_as(key),
    )
    unknown_ticket = await api.post(
        "/v1/tickets", json={"title": "x", "kind": "complaint"}, headers=_as(key)
    )
    unknown_patch = await api.patch(
        f"/v1/tickets/{ticket_id}", json={"kind": "complaint"}, headers=STAFF
    )
    unknown_filter = await api.get("/v1/tickets", params={"kind": "complaint"}, headers=STAFF)
    for answer in (unknown_report, unknown_ticket, unknown_patch, unknown_filter):
        _problem(answer, 422, "validation-failed")

    security = await api.post(
        "/v1/reports",
        json={"title": "Leaked token", "severity": "high", "kind": "security"},
        headers=_as(key),
    )
    assert (await _ticket(api, security.json()["ticket_id"]))["kind"] == "security"

    reclassified = await _patch(api, ticket_id, kind="feature_request")
    assert reclassified["kind"] == "feature_request"
    updated = (await _events(database_url, ticket_id))[-1]
    assert (updated.short_type, updated.data["changed"], updated.data["actor_kind"]) == (
        "ticket.updated",
        ["kind"],
        "staff",
    )
    assert updated.data["kind"] == "feature_request"  # read models follow the new kind
    assert client_id


# --- POST /v1/tickets -------------------------------------------------------------------------


async def test_staff_and_client_keys_open_tickets_down_the_reports_path(
    api: httpx.AsyncClient, database_url: str
) -> None:
    acme, acme_key = await client_with_key(api, "Acme")
    globex, _ = await client_with_key(api, "Globex")

    own = await _open(api, _as(acme_key), title="How do I export?", description="CSV please")
    assert (own["client_id"], own["kind"], own["status"], own["priority"]) == (
        acme,
        "question",
        "new",
        "P3",
    )
    (created,) = await _events(database_url, own["id"])
    assert created.short_type == "ticket.created"
    assert (created.data["kind"], created.clientid) == ("question", acme)

    by_staff = await _open(
        api,
        STAFF,
        client_id=globex,
        title="Dark mode",
        kind="feature_request",
        severity="low",
        assignee="alice",
    )
    assert (by_staff["client_id"], by_staff["priority"], by_staff["assignee"]) == (
        globex,
        "P4",
        "alice",
    )
    types = [event.short_type for event in await _events(database_url, by_staff["id"])]
    assert types == ["ticket.created", "ticket.assigned"]

    # Two tickets with the same title are two tickets: nothing is deduplicated.
    again = await _open(api, _as(acme_key), title="How do I export?")
    assert again["id"] != own["id"]

    _problem(
        await api.post("/v1/tickets", json={"title": "x"}, headers=STAFF), 422, "validation-failed"
    )
    _problem(
        await api.post("/v1/tickets", json={"title": "x", "client_id": "nope"}, headers=STAFF),
        404,
        "not-found",
    )
    _problem(
        await api.post(
            "/v1/tickets", json={"title": "x", "client_id": globex}, headers=_as(acme_key)
        ),
        403,
        "forbidden",
    )
    _problem(
        await api.post("/v1/tickets", json={"title": "x", "assignee": "me"}, headers=_as(acme_key)),
        403,
        "forbidden",
    )
    ingest = await api.post(f"/v1/clients/{acme}/api-keys", json={"scope": "ingest"}, headers=STAFF)
    _problem(
        await api.post("/v1/tickets", json={"title": "x"}, headers=_as(ingest.json()["key"])),
        403,
        "forbidden",
    )


async def test_an_idempotency_key_opens_one_ticket_however_often_it_is_sent(
    api: httpx.AsyncClient, database_url: str
) -> None:
    acme, acme_key = await client_with_key(api, "Acme")
    globex, _ = await client_with_key(api, "Globex")
    key = {"Idempotency-Key": "open-export-question-1"}
    body = {"title": "How do I export?", "kind": "question"}

    # Three concurrent sends and one later retry: one ticket, four identical answers.
    answers = list(
        await asyncio.gather(
            *(
                api.post("/v1/tickets", json=body, headers={**_as(acme_key), **key})
                for _ in range(3)
            )
        )
    )
    answers.append(await api.post("/v1/tickets", json=body, headers={**_as(acme_key), **key}))
    assert {answer.status_code for answer in answers} == {201}
    assert all(answer.json() == answers[0].json() for answer in answers)
    ticket_id = answers[0].json()["id"]
    assert {answer.headers["location"] for answer in answers} == {f"/v1/tickets/{ticket_id}"}
    assert sum(answer.headers.get("idempotent-replayed") == "true" for answer in answers) == 3
    created = [
        e for e in await _events(database_url, ticket_id) if e.short_type == "ticket.created"
    ]
    assert len(created) == 1
    listed = await api.get("/v1/tickets", params={"client_id": acme}, headers=STAFF)
    assert [t["id"] for t in listed.json()["items"]] == [ticket_id]

    # The same key with another body is refused, and files nothing.
    _problem(
        await api.post(
            "/v1/tickets", json={**body, "title": "Other"}, headers={**_as(acme_key), **key}
        ),
        422,
        "idempotency-key-reused",
    )
    # A staff member's keys are their own: the same key opens a ticket for them.
    by_staff = await api.post(
        "/v1/tickets", json={**body, "client_id": globex}, headers={**STAFF, **key}
    )
    assert by_staff.status_code == 201, by_staff.text
    assert by_staff.json()["id"] != ticket_id
    assert "idempotent-replayed" not in by_staff.headers
    listed = await api.get("/v1/tickets", params={"client_id": acme}, headers=STAFF)
    assert [t["id"] for t in listed.json()["items"]] == [ticket_id]


# --- assignment -----------------------------------------------------------------------------


async def test_assignment_is_announced_and_listed_by_me_subject_or_none(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    alice = await _staff_token(api, "alice")
    first, second, third = [await report(api, key, title) for title in ("A one", "B two", "C3")]

    assigned = await api.patch(f"/v1/tickets/{first}", json={"assignee": "alice"}, headers=alice)
    assert assigned.json()["assignee"] == "alice"
    await _patch(api, second, assignee="bob")
    await _patch(api, second, assignee=None)
    await _patch(api, third, assignee="bob")

    second_events = [
        e for e in await _events(database_url, second) if e.short_type.endswith("assigned")
    ]
    assert [(e.data["assignee"], e.data["previous_assignee"]) for e in second_events] == [
        ("bob", None),
        (None, "bob"),
    ]
    # Status and assignee in one PATCH: the status event, then ticket.assigned.
    await _patch(api, first, status="in_progress", assignee="carol")
    assert [e.short_type for e in (await _events(database_url, first))[-2:]] == [
        "ticket.updated",
        "ticket.assigned",
    ]
    await _patch(api, first, assignee="alice")
    first_event = (await _events(database_url, first))[-1]
    assert (first_event.data["assigned_by"], first_event.data["assignee"]) == ("admin", "alice")
    assert first_event.data["previous_assignee"] == "carol"
    by_alice = [e for e in await _events(database_url, first) if e.short_type == "ticket.assigned"]
    assert by_alice[0].data["assigned_by"] == "alice"
    history = (await api.get(f"/v1/tickets/{second}/history", headers=STAFF)).json()["items"]
    assert [(h["action"], h["details"]) for h in history] == [
        ("assigned", {"to": "bob"}),
        ("assigned", {"from": "bob"}),
    ]
    # The same assignee again changes nothing and says nothing.
    events_before = len(await outbox_events(database_url))
    await _patch(api, third, assignee="bob")
    assert len(await outbox_events(database_url)) == events_before

    async def ids(assignee: str, headers: dict[str, str] = STAFF) -> set[str]:
        answer = await api.get(
            "/v1/tickets", params={"assignee": assignee, "client_id": client_id}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return {ticket["id"] for ticket in answer.json()["items"]}

    assert await ids("me", alice) == {first}
    assert await ids("bob") == {third}
    assert await ids("none") == {second}


# --- comments: visibility and tenant isolation ------------------------------------------------


async def test_a_client_key_never_reads_an_internal_note_on_any_path(
    api: httpx.AsyncClient, database_url: str
) -> None:
    acme, acme_key = await client_with_key(api, "Acme")
    _, globex_key = await client_with_key(api, "Globex")
    ticket_id = await report(api, acme_key, "Checkout fails")

    note = await _comment(
        api, ticket_id, STAFF, body="Suspect the zanzibar cache", visibility="internal"
    )
    assert (note.status_code, note.json()["visibility"]) == (201, "internal")
    reply = await _comment(api, ticket_id, STAFF, body="We are on the quokka issue")
    client_reply = await _comment(api, ticket_id, _as(acme_key), body="Thanks!")
    assert (reply.status_code, client_reply.status_code) == (201, 201)
    assert client_reply.json()["author_kind"] == "client"

    staff_view = (await api.get(f"/v1/tickets/{ticket_id}/comments", headers=STAFF)).json()
    client_view = (await api.get(f"/v1/tickets/{ticket_id}/comments", headers=_as(acme_key))).json()
    assert [c["visibility"] for c in staff_view["items"]] == ["internal", "public", "public"]
    assert [c["body"] for c in client_view["items"]] == ["We are on the quokka issue", "Thanks!"]
    # Paging a client's view never surfaces the note either.
    first_page = (
        await api.get(
            f"/v1/tickets/{ticket_id}/comments", params={"limit": 1}, headers=_as(acme_key)
        )
    ).json()
    rest = (
        await api.get(
            f"/v1/tickets/{ticket_id}/comments",
            params={"limit": 1, "cursor": first_page["next_cursor"]},
            headers=_as(acme_key),
        )
    ).json()
    assert [c["body"] for c in first_page["items"] + rest["items"]] == [
        "We are on the quokka issue",
        "Thanks!",
    ]

    # The ticket view, the list, the history and the search carry no comment body at all.
    for path in (f"/v1/tickets/{ticket_id}", "/v1/tickets", f"/v1/tickets/{ticket_id}/history"):
        answer = await api.get(path, headers=_as(acme_key))
        assert answer.status_code == 200
        assert "zanzibar" not in answer.text
    for headers in (STAFF, _as(acme_key)):
        found = await api.get("/v1/tickets", params={"q": "zanzibar"}, headers=headers)
        assert found.json()["items"] == []  # internal notes are never searched
        public = await api.get("/v1/tickets", params={"q": "quokka"}, headers=headers)
        assert [t["id"] for t in public.json()["items"]] == [ticket_id]

    # Another client: not found, whatever it tries.
    for answer in (
        await api.get(f"/v1/tickets/{ticket_id}/comments", headers=_as(globex_key)),
        await _comment(api, ticket_id, _as(globex_key)),
    ):
        _problem(answer, 404, "not-found")
    assert (await api.get("/v1/tickets", params={"q": "quokka"}, headers=_as(globex_key))).json()[
        "items"
    ] == []

    # A client key cannot write an internal note, nor move the ticket with a reply.
    _problem(await _comment(api, ticket_id, _as(acme_key), visibility="internal"), 403, "forbidden")
    _problem(
        await _comment(api, ticket_id, _as(acme_key), status="waiting_on_client"), 403, "forbidden"
    )
    _problem(
        await _comment(api, ticket_id, STAFF, visibility="internal", status="waiting_on_client"),
        422,
        "validation-failed",
    )

    commented = [
        (event.data["author_kind"], event.data["visibility"])
        for event in await _events(database_url, ticket_id)
        if event.short_type == "ticket.commented"
    ]
    assert commented == [("staff", "internal"), ("staff", "public"), ("client", "public")]
    assert all("body" not in event.data for event in await _events(database_url, ticket_id))
    assert acme


# --- status rules ---------------------------------------------------------------------------


async def test_replies_hand_the_ticket_back_and_forth(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    ticket_id = await report(api, key, "Invoice wrong")

    asked = await _comment(api, ticket_id, STAFF, body="Which invoice?", status="waiting_on_client")
    assert asked.status_code == 201, asked.text
    assert (await _ticket(api, ticket_id))["status"] == "waiting_on_client"
    answered = await _comment(api, ticket_id, _as(key), body="No. 42")
    assert answered.status_code == 201
    assert (await _ticket(api, ticket_id))["status"] == "in_progress"
    # A note never moves it; a further client reply on an in-progress ticket neither.
    await _comment(api, ticket_id, STAFF, visibility="internal")
    await _comment(api, ticket_id, _as(key))
    assert (await _ticket(api, ticket_id))["status"] == "in_progress"

    moves = [
        (event.data["status"], event.data["actor_kind"], event.data["changed"])
        for event in await _events(database_url, ticket_id)
        if event.short_type == "ticket.updated"
    ]
    assert moves == [
        ("waiting_on_client", "staff", ["status"]),
        ("in_progress", "client", ["status"]),
    ]
    history = (await api.get(f"/v1/tickets/{ticket_id}/history", headers=STAFF)).json()["items"]
    assert [(h["details"]["to"], h["actor"] == "admin") for h in history] == [
        ("waiting_on_client", True),
        ("in_progress", False),
    ]

    await _patch(api, ticket_id, status="resolved")
    _problem(
        await _comment(api, ticket_id, STAFF, status="waiting_on_client"),
        409,
        "transition-not-allowed",
    )


async def test_a_client_reply_reopens_a_resolved_ticket_within_the_window_only(
    database_url: str,
) -> None:
    start = utc_now()
    async with intake_api(database_url, reopen_window_days=2, auto_close_days=30) as api:
        _, key = await client_with_key(api)
        recent, old = await report(api, key, "Recent"), await report(api, key, "Old")
        with use_clock(FrozenClock(start)) as clock:
            await _patch(api, old, status="resolved")
            clock.advance(timedelta(days=2, seconds=1))
            await _patch(api, recent, status="resolved")
            clock.advance(timedelta(days=1))
            assert (await _comment(api, recent, _as(key), body="Still broken")).status_code == 201
            assert (await _comment(api, old, _as(key), body="Still broken")).status_code == 201

        reopened = await _ticket(api, recent)
        assert (reopened["status"], reopened["resolved_at"]) == ("triaged", None)
        event = (await _events(database_url, recent))[-1]
        assert (event.short_type, event.data["reason"], event.data["status"]) == (
            "ticket.reopened",
            "client_reply",
            "triaged",
        )
        # Past the window the reply is kept, the ticket stays resolved.
        assert (await _ticket(api, old))["status"] == "resolved"
        assert (await _events(database_url, old))[-1].short_type == "ticket.commented"


# --- auto-close -----------------------------------------------------------------------------


async def test_resolved_tickets_close_after_the_configured_days(database_url: str) -> None:
    start = utc_now()
    async with (
        intake_api(database_url, auto_close_days=7) as api,
        sessions(database_url) as factory,
    ):
        _, key = await client_with_key(api)
        resolved, reopened, open_one = [await report(api, key, t) for t in ("R", "Re", "O")]
        job = auto_close_job(closes_after=timedelta(days=7))
        with use_clock(FrozenClock(start)) as clock:
            await _patch(api, resolved, status="resolved")
            await _patch(api, reopened, status="resolved")
            clock.advance(timedelta(days=6, hours=23))
            assert await job.run(factory) == 0
            await _patch(api, reopened, status="triaged")
            clock.advance(timedelta(hours=1))
            await job.run(factory)  # the app's own worker may take part: once either way

        assert [(await _ticket(api, t))["status"] for t in (resolved, reopened, open_one)] == [
            "closed",
            "triaged",
            "new",
        ]
        closed = [
            e for e in await _events(database_url, resolved) if e.short_type == "ticket.closed"
        ]
        assert [(e.data["reason"], e.data["closed_at"]) for e in closed] == [
            ("auto_closed", (start + timedelta(days=7)).isoformat().replace("+00:00", "Z"))
        ]
        history = (await api.get(f"/v1/tickets/{resolved}/history", headers=STAFF)).json()
        assert history["items"][-1]["details"] == {
            "from": "resolved",
            "to": "closed",
            "reason": "auto_closed",
        }


async def test_two_auto_close_workers_close_each_ticket_once(database_url: str) -> None:
    async with (
        intake_api(database_url, auto_close_days=1) as api,
        sessions(database_url) as factory,
    ):
        _, key = await client_with_key(api)
        tickets = [await report(api, key, f"T{n}") for n in range(24)]
        start = utc_now()
        with use_clock(FrozenClock(start)) as clock:
            for ticket_id in tickets:
                await _patch(api, ticket_id, status="resolved")
            clock.advance(timedelta(days=2))

            async def worker() -> int:
                closed = 0
                while True:
                    async with factory() as session:
                        batch = await auto_close.close_due_tickets(
                            session, closes_after=timedelta(days=1), batch_size=5
                        )
                    if batch == 0:
                        return closed
                    closed += batch

            await asyncio.gather(worker(), worker())

        closed_events = [
            event.subject
            for event in await outbox_events(database_url)
            if event.short_type == "ticket.closed"
        ]
        assert sorted(closed_events) == sorted(tickets)  # every one, none twice


# --- the list: filters, search, sorts, keyset pages --------------------------------------------


async def _all_pages(
    api: httpx.AsyncClient, params: dict[str, Any], headers: dict[str, str] = STAFF
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        answer = await api.get(
            "/v1/tickets",
            params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return items


def _clock(ticket: str, client_id: str, payload: type[SlaClockEvent], due: datetime) -> CloudEvent:
    started = due - timedelta(hours=4)
    return new_event(
        payload(
            ticket_id=ticket,
            client_id=client_id,
            metric="resolution",
            plan_id="p",
            priority="P2",
            started_at=started,
            due_at=due,
            occurred_at=started,
        ),
        service="sla",
        subject=ticket,
        client_id=client_id,
    )


async def test_filters_search_and_every_sort_page_through_all_tickets_once(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api, "Acme")
    _, other_key = await client_with_key(api, "Globex")
    await report(api, other_key, "Someone else's crash")

    async def filed(title: str, severity: str, **fields: Any) -> str:
        answer = await api.post(
            "/v1/reports",
            json={"title": title, "severity": severity, "fingerprint": title, **fields},
            headers=_as(key),
        )
        assert answer.status_code == 201, answer.text
        ticket_id: str = answer.json()["ticket_id"]
        return ticket_id

    crash = await filed("Checkout crashes on submit", "critical", environment="production")
    slow = await filed("Search is slow", "medium", environment="staging")
    typo = await filed("Typo on the pricing page", "low", description="It says prcing")
    question = (await _open(api, _as(key), title="Can we get invoices by mail?", kind="question"))[
        "id"
    ]
    await _patch(api, slow, status="in_progress", assignee="alice")
    await _patch(api, typo, status="resolved")
    mine = {crash, slow, typo, question}

    async def ids(**params: Any) -> set[str]:
        return {t["id"] for t in await _all_pages(api, {"client_id": client_id, **params})}

    assert await ids() == mine
    assert await ids(status=["new", "in_progress"]) == {crash, slow, question}
    assert await ids(priority=["P1", "P4"]) == {crash, typo}
    assert await ids(kind="question") == {question}
    assert await ids(kind=["bug"], status="resolved") == {typo}
    assert await ids(environment="production") == {crash}
    assert await ids(assignee="alice") == {slow}
    assert await ids(q="crashing") == {crash}  # stemmed: crashes ~ crashing
    assert await ids(q="prcing") == {typo}  # the description is searched too
    assert await ids(q='"pricing page" -checkout') == {typo}
    await _comment(api, question, _as(key), body="Paper invoices for the accounting team")
    assert await ids(q="accounting") == {question}
    everything = {t["id"]: t for t in await _all_pages(api, {"client_id": client_id})}
    created = sorted(t["created_at"] for t in everything.values())
    assert await ids(created_after=created[1], created_before=created[3]) == {
        t for t, body in everything.items() if created[1] <= body["created_at"] < created[3]
    }
    newest_update = max(t["updated_at"] for t in everything.values())
    assert await ids(updated_after=newest_update) == {
        t for t, body in everything.items() if body["updated_at"] == newest_update
    }
    # A client key: its own tickets only, whatever it asks.
    client_view = {t["id"] for t in await _all_pages(api, {}, _as(key))}
    assert client_view == mine

    # Sorts: each pages through every ticket once, in its order.
    due = utc_now() + timedelta(hours=1)
    await deliver(database_url, _clock(crash, client_id, SlaClockStarted, due + timedelta(hours=2)))
    await deliver(database_url, _clock(slow, client_id, SlaBreached, due - timedelta(hours=3)))
    await deliver(database_url, _clock(typo, client_id, SlaClockStarted, due))
    await deliver(database_url, _clock(typo, client_id, SlaMet, due))  # met: no longer due

    by_due = [t["id"] for t in await _all_pages(api, {"client_id": client_id, "sort": "sla_due"})]
    assert by_due[:2] == [slow, crash]
    assert set(by_due[2:]) == {typo, question}
    by_priority = await _all_pages(api, {"client_id": client_id, "sort": "priority"})
    assert [t["priority"] for t in by_priority] == ["P1", "P3", "P3", "P4"]
    p3 = [t for t in by_priority if t["priority"] == "P3"]
    assert p3[0]["created_at"] <= p3[1]["created_at"]  # the longest waiting first
    by_update = await _all_pages(api, {"client_id": client_id, "sort": "updated"})
    assert [t["updated_at"] for t in by_update] == sorted(
        (t["updated_at"] for t in by_update), reverse=True
    )
    by_created = await _all_pages(api, {"client_id": client_id})
    assert [t["created_at"] for t in by_created] == sorted(
        (t["created_at"] for t in by_created), reverse=True
    )
    for ordering in (by_due, by_priority, by_update, by_created):
        assert len(ordering) == len(mine)

    # A cursor of one sort is refused by another; an unknown sort is refused.
    first = (
        await api.get("/v1/tickets", params={"sort": "priority", "limit": 1}, headers=STAFF)
    ).json()
    wrong = await api.get(
        "/v1/tickets", params={"sort": "updated", "cursor": first["next_cursor"]}, headers=STAFF
    )
    _problem(wrong, 422, "validation-failed")
    assert wrong.json()["errors"][0]["kind"] == "invalid_cursor"
    _problem(
        await api.get("/v1/tickets", params={"sort": "oldest"}, headers=STAFF),
        422,
        "validation-failed",
    )
    naive = await api.get(
        "/v1/tickets", params={"created_after": "2026-12-01T10:00:00"}, headers=STAFF
    )
    _problem(naive, 422, "validation-failed")  # a range bound says its time zone
    assert datetime.fromisoformat(by_created[0]["created_at"]).tzinfo is not None
