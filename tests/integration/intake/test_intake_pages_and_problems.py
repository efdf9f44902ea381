"""intake's HTTP answers on the shared conventions: pages, cursors, PATCH bodies, problems."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aftercare_shared.errors import PROBLEM_BASE_URI
from aftercare_shared.pagination import encode_cursor
from tests.integration.intake.intake_support import (
    STAFF,
    client_with_key,
    outbox_events,
    report,
)

BAD_CURSORS = [
    "not-a-cursor!",
    encode_cursor("only-one-value"),
    encode_cursor(1, "wrong-types"),
]


async def _all_pages(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], *, limit: int
) -> list[list[str]]:
    """The ids on each page, following next_cursor to the end."""
    pages: list[list[str]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        answer = await api.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append([item["id"] for item in body["items"]])
        if body["next_cursor"] is None:
            return pages
        params = {"limit": limit, "cursor": body["next_cursor"]}


async def _scenario(api: httpx.AsyncClient) -> tuple[str, str, str]:
    """A client, its key and one of its tickets with a comment."""
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Checkout fails")
    comment = await api.post(
        f"/v1/tickets/{ticket_id}/comments", json={"body": "On it"}, headers=STAFF
    )
    assert comment.status_code == 201
    return client_id, key, ticket_id


async def test_a_bad_cursor_is_the_same_422_on_every_list_endpoint(
    api: httpx.AsyncClient,
) -> None:
    client_id, _, ticket_id = await _scenario(api)
    paths = [
        "/v1/tickets",
        "/v1/clients",
        f"/v1/clients/{client_id}/api-keys",
        f"/v1/tickets/{ticket_id}/comments",
    ]
    for path in paths:
        for cursor in BAD_CURSORS:
            answer = await api.get(path, params={"cursor": cursor}, headers=STAFF)
            assert answer.status_code == 422, (path, cursor, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            problem = answer.json()
            assert problem["type"] == PROBLEM_BASE_URI + "validation-failed"
            assert problem["errors"][0]["kind"] == "invalid_cursor"
            assert problem["errors"][0]["location"] == "query.cursor"


@pytest.mark.parametrize("limit", [0, 201])
async def test_a_page_size_out_of_range_is_refused(api: httpx.AsyncClient, limit: int) -> None:
    answer = await api.get("/v1/tickets", params={"limit": limit}, headers=STAFF)
    assert answer.status_code == 422
    assert "query.limit" in [error["location"] for error in answer.json()["errors"]]


async def test_ticket_pages_neither_skip_nor_repeat_while_tickets_arrive(
    api: httpx.AsyncClient,
) -> None:
    _, key = await client_with_key(api)
    opened = [await report(api, key, f"bug {number}") for number in range(5)]
    auth = {"Authorization": f"Bearer {key}"}

    first = (await api.get("/v1/tickets", params={"limit": 2}, headers=auth)).json()
    assert [item["id"] for item in first["items"]] == opened[::-1][:2]  # newest first
    late = await report(api, key, "arrived while paging")
    rest: list[str] = []
    cursor = first["next_cursor"]
    while cursor is not None:
        page = (
            await api.get("/v1/tickets", params={"limit": 2, "cursor": cursor}, headers=auth)
        ).json()
        rest.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
    assert rest == opened[::-1][2:]  # the late ticket sorts before the cursor: not shown
    assert late not in rest
    pages = await _all_pages(api, "/v1/tickets", auth, limit=2)
    assert pages == [[late, opened[4]], [opened[3], opened[2]], [opened[1], opened[0]]]


async def test_clients_keys_and_comments_page_oldest_first(api: httpx.AsyncClient) -> None:
    clients = [(await client_with_key(api, f"Client {number}"))[0] for number in range(3)]
    assert await _all_pages(api, "/v1/clients", STAFF, limit=2) == [clients[:2], clients[2:]]

    client_id, key = await client_with_key(api, "Keys")
    keys = [
        (await api.post(f"/v1/clients/{client_id}/api-keys", headers=STAFF)).json()["id"]
        for _ in range(2)
    ]
    key_pages = await _all_pages(api, f"/v1/clients/{client_id}/api-keys", STAFF, limit=2)
    assert [key_id for page in key_pages for key_id in page][1:] == keys
    assert [len(page) for page in key_pages] == [2, 1]

    ticket_id = await report(api, key, "Talked about")
    comments = [
        (
            await api.post(
                f"/v1/tickets/{ticket_id}/comments", json={"body": f"note {n}"}, headers=STAFF
            )
        ).json()["id"]
        for n in range(3)
    ]
    auth = {"Authorization": f"Bearer {key}"}
    path = f"/v1/tickets/{ticket_id}/comments"
    assert await _all_pages(api, path, auth, limit=2) == [comments[:2], comments[2:]]


async def test_an_empty_list_is_one_page_without_a_cursor(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v1/tickets", headers=STAFF)
    assert answer.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("field", ["status", "priority"])
async def test_patch_null_on_a_ticket_field_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, database_url: str, field: str
) -> None:
    _, key = await client_with_key(api)
    ticket_id = await report(api, key, "Slow page", severity="high")
    events_before = len(await outbox_events(database_url))

    refused = await api.patch(f"/v1/tickets/{ticket_id}", json={field: None}, headers=STAFF)

    assert refused.status_code == 422
    assert refused.json()["type"] == PROBLEM_BASE_URI + "validation-failed"
    ticket = (await api.get(f"/v1/tickets/{ticket_id}", headers=STAFF)).json()
    assert (ticket["status"], ticket["priority"]) == ("new", "P2")
    assert len(await outbox_events(database_url)) == events_before


async def test_patch_sends_only_the_fields_to_change(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _, key = await client_with_key(api)
    ticket_id = await report(api, key, "Slow page", severity="high")
    events_before = len(await outbox_events(database_url))

    nothing = await api.patch(f"/v1/tickets/{ticket_id}", json={}, headers=STAFF)
    assert nothing.status_code == 200
    assert (nothing.json()["status"], nothing.json()["priority"]) == ("new", "P2")
    assert len(await outbox_events(database_url)) == events_before

    moved = await api.patch(f"/v1/tickets/{ticket_id}", json={"priority": "P1"}, headers=STAFF)
    assert (moved.json()["status"], moved.json()["priority"]) == ("new", "P1")
    updated = (await outbox_events(database_url))[-1]
    assert updated.short_type == "ticket.updated"
    assert updated.data["changed"] == ["priority"]

    unknown_field = await api.patch(
        f"/v1/tickets/{ticket_id}", json={"owner": "bob"}, headers=STAFF
    )
    assert unknown_field.status_code == 422


async def test_patch_of_a_client_renames_it_and_refuses_null(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, _ = await client_with_key(api, "Acme")
    path = f"/v1/clients/{client_id}"

    cleared = await api.patch(path, json={"name": None}, headers=STAFF)
    assert cleared.status_code == 422
    unchanged = await api.patch(path, json={}, headers=STAFF)
    assert unchanged.status_code == 200
    assert unchanged.json()["name"] == "Acme"
    assert "client.updated" not in [event.short_type for event in await outbox_events(database_url)]

    renamed = await api.patch(path, json={"name": "  Acme Ltd "}, headers=STAFF)
    assert renamed.json()["name"] == "Acme Ltd"
    assert (await api.get(path, headers=STAFF)).json()["name"] == "Acme Ltd"
    last = (await outbox_events(database_url))[-1]
    assert (last.short_type, last.data["name"]) == ("client.updated", "Acme Ltd")


async def test_unknown_resources_are_not_found_problems(api: httpx.AsyncClient) -> None:
    answers = [
        await api.get("/v1/tickets/no-such-ticket", headers=STAFF),
        await api.patch("/v1/tickets/no-such-ticket", json={"priority": "P1"}, headers=STAFF),
        await api.get("/v1/tickets/no-such-ticket/comments", headers=STAFF),
        await api.post(
            "/v1/tickets/no-such-ticket/comments", json={"body": "hello"}, headers=STAFF
        ),
        await api.get("/v1/clients/no-such-client", headers=STAFF),
        await api.patch("/v1/clients/no-such-client", json={"name": "x"}, headers=STAFF),
        await api.get("/v1/clients/no-such-client/api-keys", headers=STAFF),
        await api.post("/v1/clients/no-such-client/api-keys", headers=STAFF),
        await api.delete("/v1/api-keys/no-such-key", headers=STAFF),
    ]
    for answer in answers:
        assert answer.status_code == 404, answer.request.url
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == PROBLEM_BASE_URI + "not-found"


async def test_another_clients_ticket_is_not_found_for_comments_too(
    api: httpx.AsyncClient,
) -> None:
    _, _, ticket_id = await _scenario(api)
    _, other_key = await client_with_key(api, "Other")
    other = {"Authorization": f"Bearer {other_key}"}
    path = f"/v1/tickets/{ticket_id}/comments"
    assert (await api.get(path, headers=other)).status_code == 404
    assert (await api.post(path, json={"body": "peek"}, headers=other)).status_code == 404


async def test_a_staff_credential_cannot_send_a_report(
    api: httpx.AsyncClient, database_url: str
) -> None:
    answer = await api.post("/v1/reports", json={"title": "x", "severity": "low"}, headers=STAFF)
    assert answer.status_code == 403
    assert answer.json()["type"] == PROBLEM_BASE_URI + "forbidden"
    assert "client API key" in answer.json()["detail"]


async def test_a_staff_token_cannot_mint_more(api: httpx.AsyncClient) -> None:
    minted = await api.post("/v1/staff-tokens", json={"subject": "alice"}, headers=STAFF)
    token = {"Authorization": f"Bearer {minted.json()['token']}"}
    again = await api.post("/v1/staff-tokens", json={"subject": "mallory"}, headers=token)
    assert again.status_code == 403
    assert again.json()["type"] == PROBLEM_BASE_URI + "forbidden"


async def test_openapi_documents_pages_and_problem_answers(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    paths = document["paths"]
    listing = paths["/v1/tickets"]["get"]
    assert {"limit", "cursor"} <= {parameter["name"] for parameter in listing["parameters"]}
    assert "application/problem+json" in listing["responses"]["422"]["content"]
    assert "409" in paths["/v1/tickets/{ticket_id}"]["patch"]["responses"]
    assert "404" in paths["/v1/clients/{client_id}"]["get"]["responses"]
    assert "403" in paths["/v1/reports"]["post"]["responses"]
    for path in ("/v1/clients", "/v1/clients/{client_id}/api-keys"):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/Page_")
